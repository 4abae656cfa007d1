/* params.h: the query parameters of reads (filter, sort, keys, hint, page,
 * pagesize, count), validated once into bson and numbers. */
#ifndef RESTFCGI_PARAMS_H
#define RESTFCGI_PARAMS_H

#include <bson/bson.h>

#include "config.h"
#include "request.h"

struct find_params {
    bson_t filter; /* {} when none; several filter params become {"$and": [...]} */
    bson_t sort;   /* empty: the default ({"_id": -1}) */
    bson_t keys;   /* empty: whole documents */
    bson_t hint;   /* empty: none */
    int64_t page, pagesize;
    bool count;
};

/* Fills p (always initialised; free with params_find_free). 400 for JSON
 * that is malformed, too deep or not an object, page < 1, pagesize outside
 * 0..max_pagesize, non-numbers; 403 for JavaScript anywhere in a filter. */
bool params_find(const struct request *req, const struct limits *limits, struct find_params *p,
                 struct restfcgi_error *err);
void params_find_free(struct find_params *p);

/* Only the filter parameter(s), for bulk writes and _size (required: a
 * missing filter is 400 when required is true). */
bool params_filter(const struct request *req, const struct limits *limits, bool required,
                   bson_t *filter, struct restfcgi_error *err);

/* 403 when doc holds server-side JavaScript anywhere: $where, $function,
 * $accumulator, or a code value. Every JSON the API reads is checked, so
 * neither store ever sees it. */
bool params_no_javascript(const bson_t *doc, struct restfcgi_error *err);

#endif
