# The mongo store keeps REST collection /db/coll as MongoDB namespace db.coll,
# plain documents with `_id` and `_etag`: an independent client (pymongo)
# must see exactly what the API wrote, and the API exactly what pymongo
# wrote, type for type, through the FastCGI harness against jongodb.
#
# Comparison: canonical Extended JSON (bson.json_util, CANONICAL_JSON_OPTIONS,
# field order preserved), byte for byte.
#   - What the API stored, read with pymongo, against the body that was sent
#     (both canonical; `_etag` taken out of the stored side): every type must
#     survive exactly (an int32 stays an int32, an int64 7 stays an int64).
#   - What the API answers (relaxed Extended JSON) against the document read
#     with pymongo: both sides normalised the same way, relaxed dump → loads
#     → canonical dump, since relaxed JSON alone cannot tell int32 from int64.
#     The raw API text is also searched for the exact big integers.
# Not in the type zoo: binary subtypes 3 and 4 (UUIDs). jongodb stores
# subtype 4 as 3, and Debian's pymongo 3.11 reads both as uuid.UUID with its
# legacy representation and writes them back as subtype 3, so neither side
# could be trusted for them. Dates stay within years 1..9999 (pymongo 3.11
# cannot hold others in a datetime).
STORE=mongo
. "$(dirname "$0")/../conformance/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || skip "/usr/bin/python3 is missing"
"$PY" -c 'import pymongo, bson' 2>/dev/null || skip "python3-pymongo is not installed (scripts/install-deps --test)"

# X CMD ARGS...: the pymongo side (and the normaliser), on $MONGO_URI: one
# python process for the whole case (a coprocess), one line per answer.
cat >"$T/x.py" <<'PY'
import datetime, json, os, sys
from bson import json_util, ObjectId, Int64, Decimal128, Binary, Regex, Timestamp, MinKey, MaxKey
from bson.codec_options import CodecOptions
from bson.json_util import JSONOptions, CANONICAL_JSON_OPTIONS, RELAXED_JSON_OPTIONS
from bson.son import SON
from pymongo import MongoClient

LOAD = JSONOptions(document_class=SON, tz_aware=True)
CODEC = CodecOptions(document_class=SON, tz_aware=True)
CLIENT = MongoClient(os.environ["MONGO_URI"], serverSelectionTimeoutMS=5000)

def load(text):
    return json_util.loads(text, json_options=LOAD)

def canon(value):
    return json_util.dumps(value, json_options=CANONICAL_JSON_OPTIONS)

def norm(value):
    # what a relaxed reader can know of value, in canonical form
    return canon(load(json_util.dumps(value, json_options=RELAXED_JSON_OPTIONS)))

def coll(db, name):
    return CLIENT.get_database(db, codec_options=CODEC)[name]

def one(db, name, flt):
    return coll(db, name).find_one(load(flt))

def first(v):
    if not isinstance(v, list) or len(v) != 1:
        raise ValueError("expected an array of one document, got %s" % canon(v)[:300])
    return v[0]

def zoo(db, name):
    utc = datetime.timezone.utc
    docs = [
        SON([("_id", ObjectId("65b000000000000000000001")),
             ("oid", ObjectId("0123456789abcdef01234567")),
             ("date", datetime.datetime(2024, 2, 29, 23, 59, 58, 765000, tzinfo=utc)),
             ("date_old", datetime.datetime(1901, 12, 13, 20, 45, 52, 1000, tzinfo=utc)),
             ("i32", 2147483647), ("i32_neg", -5),
             ("i64_small", Int64(5)),
             ("i64_2p53p1", Int64(2**53 + 1)),
             ("i64_max", Int64(2**63 - 1)),
             ("i64_min", Int64(-2**63)),
             ("dbl", 0.1), ("dbl_int", 3.0), ("dbl_exp", 6.02214076e23),
             ("dbl_negz", -0.0), ("dbl_nan", float("nan")), ("dbl_inf", float("inf")),
             ("dec", Decimal128("9999999999999999999999999999999999")),
             ("dec_frac", Decimal128("0.000000000000000000000000000000001")),
             ("dec_negz", Decimal128("-0")), ("dec_inf", Decimal128("-Infinity")),
             ("bin", Binary(b"\x00\x01\x02\xfe\xff", 0)),
             ("bin_md5", Binary(b"0123456789abcdef", 5)),
             ("bin_user", Binary(b"\x80", 0x80)),
             ("re", Regex(r"^\w+@example\.(com|org)$", "i")),
             ("t", True), ("f", False), ("n", None),
             ("s_uni", "Grüße, 世界, ☃, 🎉 𝄞"),
             ("s_ctrl", "a\x01b\tc\n\"d\\"),
             ("ts", Timestamp(1700000000, 7)),
             ("minkey", MinKey()), ("maxkey", MaxKey()),
             ("ключ", "unicode key"),
             ("nested", SON([("a", SON([("b", [Int64(1), SON([("c", [[], SON()])]), "x"])])), ("z", None)])),
             ("arr", [1, Int64(2), 2.5, Decimal128("3"), "s", None, True,
                      datetime.datetime(1970, 1, 1, tzinfo=utc), [ObjectId("0123456789abcdef01234567")]]),
             ("empty_doc", SON()), ("empty_arr", [])]),
        SON([("_id", "pm-string-id-é"), ("v", Int64(2**62 + 1)), ("d", Decimal128("-1.5E-6100"))]),
        SON([("_id", Int64(2**53 + 1)), ("v", "int64 _id past 2^53")]),
        SON([("_id", Decimal128("0.1")), ("v", "decimal _id")]),
    ]
    c = coll(db, name)
    for d in docs:
        c.insert_one(d)
    return "\t".join(canon(SON([("_id", d["_id"])])) for d in docs)

def handle(cmd, *args):
    if cmd == "canon":          # TEXT: canonical form of Extended JSON text
        return canon(load(args[0]))
    if cmd == "idfilter":       # TEXT: {"_id": ...} of a document, canonical
        return canon(SON([("_id", load(args[0])["_id"])]))
    if cmd == "norm":           # FILE [first]: an API answer, normalised
        with open(args[0], encoding="utf-8") as f:
            v = load(f.read())
        return canon(first(v) if "first" in args[1:] else v)
    if cmd == "stored":         # DB COLL FILTER: canonical, without _etag
        d = one(*args)
        if d is not None:
            d.pop("_etag", None)
        return canon(d)
    if cmd == "stored_norm":    # DB COLL FILTER: normalised like an API answer
        return norm(one(*args))
    if cmd == "etag":           # DB COLL FILTER: "ObjectId HEX", "absent", "no document"
        d = one(*args)
        if d is None:
            return "no document"
        if "_etag" not in d:
            return "absent"
        e = d["_etag"]
        return "ObjectId %s" % e if isinstance(e, ObjectId) else "%s %r" % (type(e).__name__, e)
    if cmd == "field":          # DB COLL FILTER NAME: canonical {"NAME": value} or "missing"
        d = one(*args[:3])
        return canon(SON([(args[3], d[args[3]])])) if d is not None and args[3] in d else "missing"
    if cmd == "count":          # DB COLL FILTER
        return str(coll(args[0], args[1]).count_documents(load(args[2])))
    if cmd == "update":         # DB COLL FILTER UPDATE: "matched modified"
        r = coll(args[0], args[1]).update_one(load(args[2]), load(args[3]))
        return "%d %d" % (r.matched_count, r.modified_count)
    if cmd == "delete":         # DB COLL FILTER
        return str(coll(args[0], args[1]).delete_one(load(args[2])).deleted_count)
    if cmd == "zoo":            # DB COLL: insert the type zoo natively; the _id filters, tab-separated
        return zoo(*args)
    raise ValueError("unknown command " + cmd)

for line in sys.stdin:
    try:
        answer = handle(*json.loads(line))
    except Exception as e:
        answer = "ERROR %s: %s" % (type(e).__name__, e)
    sys.stdout.write(answer.replace("\n", "\\n") + "\n")
    sys.stdout.flush()
PY
start_pymongo() {
    coproc PYX { MONGO_URI="$MONGO_URI" exec "$PY" "$T/x.py" 2>>"$T/pymongo.err"; }
    PIDS+=("$PYX_PID")
    PYX_IN=${PYX[1]} PYX_OUT=${PYX[0]}
}
X() {
    local answer
    jq -cn '$ARGS.positional' --args -- "$@" >&"$PYX_IN" || fail "pymongo helper is gone: $(tail -n 5 "$T/pymongo.err")"
    IFS= read -r answer <&"$PYX_OUT" || fail "pymongo helper is gone: $(tail -n 5 "$T/pymongo.err")"
    case $answer in ERROR*) fail "pymongo $1: $answer" ;; esac
    printf '%s\n' "$answer"
}
enc() { jq -rn --arg v "$1" '$v|@uri'; }

# api_doc DB COLL FILTER: GET through the API by filter (any _id type);
# the one document, normalised, in $API_DOC.
api_doc() {
    expect GET "/$1/$2?filter=$(enc "$3")" 200
    API_DOC=$(X norm "$T/b" first)
}

# same_both_ways DB COLL FILTER WHAT: the API's answer and pymongo's view
# of one document are the same, byte for byte after normalisation.
same_both_ways() {
    api_doc "$1" "$2" "$3"
    assert_eq "$API_DOC" "$(X stored_norm "$1" "$2" "$3")" "$4: API answer vs pymongo"
}

# The type zoo in canonical Extended JSON, as a client would send it.
ZOO='{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"},
 "oid":{"$oid":"0123456789abcdef01234567"},
 "date":{"$date":{"$numberLong":"1704164645678"}},
 "date_pre1970":{"$date":{"$numberLong":"-86400001"}},
 "i32":{"$numberInt":"-2147483648"},
 "i32b":{"$numberInt":"7"},
 "i64small":{"$numberLong":"7"},
 "i64big":{"$numberLong":"9007199254740993"},
 "i64min":{"$numberLong":"-9223372036854775808"},
 "dbl":{"$numberDouble":"3.141592653589793"},
 "dbl_int":{"$numberDouble":"2.0"},
 "dbl_tiny":{"$numberDouble":"5E-324"},
 "dbl_big":{"$numberDouble":"1.7976931348623157E+308"},
 "dbl_negz":{"$numberDouble":"-0.0"},
 "dbl_nan":{"$numberDouble":"NaN"},
 "dbl_inf":{"$numberDouble":"-Infinity"},
 "dec":{"$numberDecimal":"1234567890.123456789012345678901234"},
 "dec_neg":{"$numberDecimal":"-0.0001"},
 "dec_exp":{"$numberDecimal":"1.23E+6000"},
 "dec_nan":{"$numberDecimal":"NaN"},
 "bin":{"$binary":{"base64":"AAH/gH8=","subType":"00"}},
 "bin_md5":{"$binary":{"base64":"MDEyMzQ1Njc4OWFiY2RlZg==","subType":"05"}},
 "bin_user":{"$binary":{"base64":"","subType":"80"}},
 "re":{"$regularExpression":{"pattern":"^a\\.b[0-9]+$","options":"imsx"}},
 "t":true,"f":false,"n":null,
 "s_empty":"",
 "s_uni":"héllo wörld — ☃ 日本語 𝄞",
 "s_esc":"quote\" backslash\\ tab\t nl\n \u0001 \ud83d\ude00",
 "ключ":"unicode key",
 "ts":{"$timestamp":{"t":1700000000,"i":5}},
 "minkey":{"$minKey":1},"maxkey":{"$maxKey":1},
 "nested":{"a":{"b":{"c":[{"d":{"$numberLong":"1"}},{"e":[[],[{}]]}]}},"z":"last"},
 "arr":[{"$numberInt":"1"},{"$numberLong":"2"},{"$numberDouble":"3.5"},"four",null,true,
        {"$oid":"0123456789abcdef01234567"},{"$date":{"$numberLong":"0"}},[{"$numberDecimal":"5"}]],
 "empty_doc":{},"empty_arr":[]}'

# Relaxed and shell-style input: plain numbers take the smallest fitting
# type (int32, else int64) or double, ISO dates.
RELAXED='{"_id":"str-id-é/ü","n_int":5,"n_long":1099511627776,"n_big":9007199254740993,
 "n_dbl":1.5,"n_dbl_int":1.0,"n_exp":1e300,"n_neg":-0.25,
 "date":{"$date":"2024-02-29T12:34:56.789Z"},"oid":{"$oid":"0123456789abcdef01234567"},
 "list":[1,2.0,"3",{"x":[{"y":null}]}]}'

# Documents whose _id is not an ObjectId or a string.
ODD_IDS=('{"_id":{"$numberLong":"9223372036854775807"},"v":"int64 _id"}'
    '{"_id":{"$numberDecimal":"0.1"},"v":"decimal _id"}'
    '{"_id":{"$date":{"$numberLong":"1700000000000"}},"v":"date _id"}'
    '{"_id":{"a":{"$numberInt":"1"},"b":"x"},"v":"document _id"}')

# post_and_check DB COLL BODY: POST through the API; pymongo finds exactly
# the body plus an `_etag` ObjectId equal to the ETag header, and the API's
# answer equals pymongo's view.
post_and_check() {
    local db=$1 coll=$2 body=$3 flt sent
    expect POST "/$db/$coll" 201 "$body"
    local etag
    etag=$(header ETag)
    flt=$(X idfilter "$body")
    sent=$(X canon "$body")
    assert_eq "$(X stored "$db" "$coll" "$flt")" "$sent" "POST $flt: stored by the API vs sent"
    assert_eq "$(X etag "$db" "$coll" "$flt")" "ObjectId $etag" "POST $flt: _etag seen by pymongo"
    same_both_ways "$db" "$coll" "$flt" "POST $flt"
}

# (a) Written through the API, read with pymongo.
case_api_to_pymongo() {
    start_api
    start_pymongo
    expect PUT /xdb 201
    expect PUT /xdb/types 201
    post_and_check xdb types "$ZOO"
    post_and_check xdb types "$RELAXED"
    for body in "${ODD_IDS[@]}"; do post_and_check xdb types "$body"; done

    # By URL too, for an ObjectId and a string id (percent-encoded).
    expect GET /xdb/types/65a1b2c3d4e5f60718293a4b 200
    assert_eq "$(X norm "$T/b")" "$(X stored_norm xdb types '{"_id":{"$oid":"65a1b2c3d4e5f60718293a4b"}}')" "GET by ObjectId"
    expect GET "/xdb/types/$(enc 'str-id-é/ü')" 200
    assert_eq "$(X norm "$T/b")" "$(X stored_norm xdb types '{"_id":"str-id-é/ü"}')" "GET by string id"
    # Relaxed output still carries the exact digits past 2^53.
    assert_contains "$(cat "$T/b")" '9007199254740993' "int64 past 2^53 in the API text"

    # A bulk POST: each element stored as sent.
    local bulk='[{"_id":"b1","i":{"$numberLong":"1"},"d":{"$numberDecimal":"1.10"}},
        {"_id":"b2","dt":{"$date":{"$numberLong":"-1"}},"r":{"$regularExpression":{"pattern":"x","options":""}}},
        {"_id":"b3","deep":[[[{"$numberDouble":"0.5"}]]]}]'
    expect POST /xdb/types 200 "$bulk"
    jq_true '.inserted == 3' "bulk POST"
    for i in 0 1 2; do
        local el flt
        el=$(jq -c ".[$i]" <<<"$bulk")
        flt=$(jq -c '{_id}' <<<"$el")
        assert_eq "$(X stored xdb types "$flt")" "$(X canon "$el")" "bulk element $i stored"
        same_both_ways xdb types "$flt" "bulk element $i"
    done

    # Nothing else in the namespace, and the API counts the same.
    expect GET /xdb/types/_size 200
    assert_eq "$(jq ._size "$T/b")" "$(X count xdb types '{}')" "_size vs pymongo count"
    assert_eq "$(X count xdb types '{}')" 9 "documents in xdb.types"
}

# (b) Written with pymongo, read through the API; then a pymongo update seen
# by the API and API writes seen by pymongo.
case_pymongo_to_api() {
    start_api
    start_pymongo
    # The catalog is the API's: the database and collection exist only
    # once PUT through it.
    expect PUT /pdb 201
    expect PUT /pdb/zoo 201
    local ids
    IFS=$'\t' read -r -a ids <<<"$(X zoo pdb zoo)"
    assert_eq "${#ids[@]}" 4 "documents inserted by pymongo"
    for flt in "${ids[@]}"; do same_both_ways pdb zoo "$flt" "pymongo insert $flt"; done

    expect GET /pdb/zoo/65b000000000000000000001 200
    local raw
    raw=$(cat "$T/b")
    assert_eq "$(X norm "$T/b")" "$(X stored_norm pdb zoo '{"_id":{"$oid":"65b000000000000000000001"}}')" "GET by id"
    assert_contains "$raw" '9007199254740993' "int64 2^53+1 exact"
    assert_contains "$raw" '9223372036854775807' "int64 max exact"
    assert_contains "$raw" '"$numberDecimal" : "9999999999999999999999999999999999"' "Decimal128 exact"
    assert_contains "$raw" '"$numberDecimal" : "1E-33"' "Decimal128 small exact"
    # An int64 _id past 2^53 is found by its exact value, not a neighbour.
    api_doc pdb zoo '{"_id":{"$numberLong":"9007199254740993"}}'
    assert_contains "$API_DOC" '"9007199254740993"' "int64 _id"
    expect GET "/pdb/zoo?filter=$(enc '{"_id":{"$numberLong":"9007199254740992"}}')" 200
    jq_true 'length == 0' "int64 _id 2^53 must not match 2^53+1"
    expect GET /pdb/zoo/_size 200
    jq_true '._size == 4' "_size of what pymongo inserted"

    # pymongo updates, the API sees them.
    local zid='{"_id":{"$oid":"65b000000000000000000001"}}'
    assert_eq "$(X update pdb zoo "$zid" '{"$set":{"pm":{"$numberLong":"4611686018427387907"},"pm_dec":{"$numberDecimal":"7.70"},"nested.a.y":"y"},"$inc":{"i64_2p53p1":{"$numberLong":"2"}},"$unset":{"t":""}}')" "1 1" "pymongo update"
    same_both_ways pdb zoo "$zid" "after the pymongo update"
    assert_contains "$API_DOC" '"pm": {"$numberLong": "4611686018427387907"}' "pymongo \$set seen by the API"
    assert_contains "$API_DOC" '"i64_2p53p1": {"$numberLong": "9007199254740995"}' "pymongo \$inc seen by the API"
    assert_contains "$API_DOC" '"pm_dec": {"$numberDecimal": "7.70"}' "pymongo \$set Decimal128 seen by the API"
    assert_not_contains "$API_DOC" '"t": true' "pymongo \$unset seen by the API"
    # pymongo wrote no _etag; the document had none.
    assert_eq "$(X etag pdb zoo "$zid")" "absent" "_etag of a pymongo document"

    # The API patches, pymongo sees it (and the new _etag).
    expect PATCH /pdb/zoo/65b000000000000000000001 200 '{"$set":{"patched":{"$numberDecimal":"0.30000000000000000000000000000001"},"nested.z":{"$date":{"$numberLong":"1"}}},"$inc":{"i64_max":{"$numberLong":"-1"},"i32":{"$numberInt":"-1"}},"$unset":{"n":""}}'
    local etag
    etag=$(header ETag)
    assert_eq "$(X etag pdb zoo "$zid")" "ObjectId $etag" "_etag of the API PATCH seen by pymongo"
    assert_eq "$(X field pdb zoo "$zid" patched)" '{"patched": {"$numberDecimal": "0.30000000000000000000000000000001"}}' "PATCH \$set Decimal128"
    assert_eq "$(X field pdb zoo "$zid" i64_max)" '{"i64_max": {"$numberLong": "9223372036854775806"}}' "PATCH \$inc int64"
    assert_eq "$(X field pdb zoo "$zid" i32)" '{"i32": {"$numberInt": "2147483646"}}' "PATCH \$inc int32 stays int32"
    assert_eq "$(X field pdb zoo "$zid" nested)" '{"nested": {"a": {"b": [{"$numberLong": "1"}, {"c": [[], {}]}, "x"], "y": "y"}, "z": {"$date": {"$numberLong": "1"}}}}' "PATCH dotted \$set"
    assert_eq "$(X field pdb zoo "$zid" n)" "missing" "PATCH \$unset"
    same_both_ways pdb zoo "$zid" "after the API PATCH"

    # An API PUT (replace) of a pymongo document, seen by pymongo as sent.
    local body='{"_id":"pm-string-id-é","replaced":true,"v":{"$numberLong":"-9007199254740993"},"at":{"$date":{"$numberLong":"253402300799999"}}}'
    expect PUT "/pdb/zoo/$(enc 'pm-string-id-é')" 200 "$body"
    assert_eq "$(X stored pdb zoo '{"_id":"pm-string-id-é"}')" "$(X canon "$body")" "API PUT seen by pymongo"
    assert_eq "$(X etag pdb zoo '{"_id":"pm-string-id-é"}')" "ObjectId $(header ETag)" "_etag of the API PUT"
    same_both_ways pdb zoo '{"_id":"pm-string-id-é"}' "after the API PUT"
}

# (c) `_etag` is an ordinary field for pymongo; If-Match / If-None-Match
# follow it; an API DELETE removes the document for pymongo.
case_etag_and_delete() {
    start_api
    start_pymongo
    expect PUT /edb 201
    expect PUT /edb/c 201
    expect POST /edb/c 201 '{"_id":"e1","v":{"$numberInt":"1"}}'
    local e1 e2 e3
    e1=$(header ETag)
    [[ "$e1" =~ ^[0-9a-f]{24}$ ]] || fail "ETag is not an ObjectId: '$e1'"
    local f='{"_id":"e1"}'
    assert_eq "$(X etag edb c "$f")" "ObjectId $e1" "_etag written by POST"

    expect PATCH /edb/c/e1 200 '{"$inc":{"v":{"$numberInt":"1"}}}' -H "If-Match: $e1"
    e2=$(header ETag)
    [ "$e2" != "$e1" ] || fail "PATCH kept the ETag"
    assert_eq "$(X etag edb c "$f")" "ObjectId $e2" "_etag written by PATCH"
    # A stale If-Match is refused and changes nothing.
    expect PATCH /edb/c/e1 412 '{"$set":{"v":{"$numberInt":"99"}}}' -H "If-Match: $e1"
    is_error 412
    assert_eq "$(X stored edb c "$f")" '{"_id": "e1", "v": {"$numberInt": "2"}}' "document after a stale If-Match"
    assert_eq "$(X etag edb c "$f")" "ObjectId $e2" "_etag after a stale If-Match"

    # pymongo changes _etag itself: the API follows the stored field.
    e3=65c0ffee0000000000000003
    assert_eq "$(X update edb c "$f" "{\"\$set\":{\"_etag\":{\"\$oid\":\"$e3\"}}}")" "1 1" "pymongo sets _etag"
    expect GET /edb/c/e1 200
    assert_eq "$(header ETag)" "$e3" "ETag after pymongo set _etag"
    expect GET /edb/c/e1 304 '' -H "If-None-Match: $e3"
    expect PATCH /edb/c/e1 412 '{"$set":{"v":{"$numberInt":"3"}}}' -H "If-Match: $e2"
    expect PATCH /edb/c/e1 200 '{"$set":{"v":{"$numberInt":"3"}}}' -H "If-Match: $e3"

    # DELETE through the API: gone for pymongo, and for the API.
    expect DELETE /edb/c/e1 204
    assert_eq "$(X etag edb c "$f")" "no document" "pymongo after the API DELETE"
    assert_eq "$(X count edb c '{}')" 0 "documents left"
    expect GET /edb/c/e1 404
    is_error 404

    # Bulk DELETE by filter: only the matches go.
    expect POST /edb/c 200 '[{"g":"x","i":1},{"g":"x","i":2},{"g":"x","i":3},{"g":"y","i":4}]'
    assert_eq "$(X count edb c '{"g":"x"}')" 3 "bulk inserted"
    assert_eq "$(X count edb c '{"_etag":{"$type":"objectId"}}')" 4 "bulk inserts carry _etag"
    expect DELETE "/edb/c/*?filter=$(enc '{"g":"x"}')" 200
    jq_true '.deleted == 3' "bulk DELETE"
    assert_eq "$(X count edb c '{"g":"x"}')" 0 "pymongo after the bulk DELETE"
    assert_eq "$(X count edb c '{"g":"y"}')" 1 "the non-matching document stays"

    # A pymongo delete is seen by the API.
    expect POST /edb/c 201 '{"_id":"e2"}'
    assert_eq "$(X delete edb c '{"_id":"e2"}')" 1 "pymongo delete"
    expect GET /edb/c/e2 404
    expect PATCH /edb/c/e2 404 '{"$set":{"a":1}}'
}

run_case "$@"
