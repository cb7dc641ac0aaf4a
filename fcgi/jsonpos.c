/*
 * jsonpos.c - a position-tracking walk over valid JSON text, only to point
 * configuration errors at a line and column (see jsonpos.h). The text was
 * already accepted by jansson, so the walk does not validate; it stops
 * safely at the end of the buffer whatever the bytes are.
 */
#include <string.h>

#include "jsonpos.h"

typedef struct cursor {
    const char *p;
    const char *end;
    int line;
    int column;
} cursor_t;

static void advance(cursor_t *c)
{
    if (c->p >= c->end)
        return;
    unsigned char ch = (unsigned char)*c->p++;
    if (ch == '\n') {
        c->line++;
        c->column = 1;
    } else if ((ch & 0xC0) != 0x80) { /* continuation bytes share a character */
        c->column++;
    }
}

static void skip_space(cursor_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        advance(c);
}

static fcgi_json_pos_t here(const cursor_t *c)
{
    fcgi_json_pos_t pos = {c->line, c->column};
    return pos;
}

/* Consumes a string token; when want is not NULL, tells whether its decoded
 * content equals want. Keys in the configuration are ASCII, so only the
 * simple escapes need decoding; anything else simply does not match. */
static int skip_string(cursor_t *c, const char *want)
{
    size_t wlen = want ? strlen(want) : 0, matched = 0;
    int equal = want != NULL;
    advance(c); /* opening quote */
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p;
        if (ch == '\\') {
            advance(c);
            if (c->p >= c->end)
                break;
            const char *simple = strchr("\"\\/bfnrt", *c->p);
            ch = simple ? "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"] : '\0';
            if (!simple)
                equal = 0; /* \uXXXX: not in any key we look for */
        }
        if (equal && (matched >= wlen || want[matched] != ch))
            equal = 0;
        matched++;
        advance(c);
    }
    advance(c); /* closing quote */
    return equal && matched == wlen;
}

static void skip_value(cursor_t *c);

static void skip_container(cursor_t *c)
{
    int depth = 0;
    do {
        char ch = *c->p;
        if (ch == '"') {
            skip_string(c, NULL);
            continue;
        }
        if (ch == '{' || ch == '[')
            depth++;
        else if (ch == '}' || ch == ']')
            depth--;
        advance(c);
    } while (depth > 0 && c->p < c->end);
}

static void skip_value(cursor_t *c)
{
    skip_space(c);
    if (c->p >= c->end)
        return;
    if (*c->p == '"') {
        skip_string(c, NULL);
    } else if (*c->p == '{' || *c->p == '[') {
        skip_container(c);
    } else {
        while (c->p < c->end && !strchr(",]} \t\r\n", *c->p))
            advance(c);
    }
}

/* With c on an object's '{', finds member `name`; leaves c on its value. */
static int find_member(cursor_t *c, const char *name, fcgi_json_pos_t *key)
{
    advance(c); /* '{' */
    for (;;) {
        skip_space(c);
        if (c->p >= c->end || *c->p != '"')
            return -1;
        *key = here(c);
        int match = skip_string(c, name);
        skip_space(c);
        if (c->p >= c->end || *c->p != ':')
            return -1;
        advance(c);
        skip_space(c);
        if (match)
            return 0;
        skip_value(c);
        skip_space(c);
        if (c->p >= c->end || *c->p != ',')
            return -1;
        advance(c);
    }
}

int fcgi_json_locate(const char *text, size_t len, const char *const *path, size_t depth, fcgi_json_pos_t *key,
                     fcgi_json_pos_t *value)
{
    cursor_t c = {text, text + len, 1, 1};
    fcgi_json_pos_t key_pos = {0, 0};
    skip_space(&c);
    for (size_t i = 0; i < depth; i++) {
        if (c.p >= c.end || *c.p != '{' || find_member(&c, path[i], &key_pos) != 0)
            return -1;
    }
    if (depth == 0)
        return -1;
    *key = key_pos;
    *value = here(&c);
    return 0;
}
