/* Unit tests of fcgi_app/names.c. */
#include "../../../fcgi_app/names.c"

#include "check.h"

static int check_name(enum name_kind kind, const char *name)
{
    char out[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    if (name_check(kind, sv_from_cstr(name), out, sizeof out, &err)) {
        CHECK_STR(out, name);
        return 200;
    }
    return err.code;
}

TEST_CASE(databases)
{
    CHECK_INT(check_name(NAME_DB, "inventory"), 200);
    CHECK_INT(check_name(NAME_DB, "my-db_2"), 200);
    CHECK_INT(check_name(NAME_DB, ""), 400);
    CHECK_INT(check_name(NAME_DB, "a.b"), 400);
    CHECK_INT(check_name(NAME_DB, "a$b"), 400);
    CHECK_INT(check_name(NAME_DB, "a b"), 400);
    CHECK_INT(check_name(NAME_DB, "a/b"), 400);
    CHECK_INT(check_name(NAME_DB, "_private"), 403);
}

TEST_CASE(collections)
{
    CHECK_INT(check_name(NAME_COLL, "orders"), 200);
    CHECK_INT(check_name(NAME_COLL, "orders.2024"), 200);
    CHECK_INT(check_name(NAME_COLL, "_properties"), 403);
    CHECK_INT(check_name(NAME_COLL, "system.users"), 403);
    CHECK_INT(check_name(NAME_COLL, "a$b"), 400);
    char longname[NAME_MAX_LEN + 2];
    memset(longname, 'x', sizeof longname);
    longname[NAME_MAX_LEN] = '\0';
    CHECK_INT(check_name(NAME_COLL, longname), 200);
    longname[NAME_MAX_LEN] = 'x';
    longname[NAME_MAX_LEN + 1] = '\0';
    CHECK_INT(check_name(NAME_COLL, longname), 400);
}

TEST_CASE(indexes)
{
    CHECK_INT(check_name(NAME_INDEX, "by_name"), 200);
    CHECK_INT(check_name(NAME_INDEX, "_id_"), 200);
    CHECK_INT(check_name(NAME_INDEX, ""), 400);
}
