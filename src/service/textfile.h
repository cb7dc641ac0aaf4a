/*
 * textfile.h - reading a daemon's configuration file whole.
 */
#ifndef SERVICE_TEXTFILE_H
#define SERVICE_TEXTFILE_H

#include <stddef.h>

/*
 * The contents of path (malloc'd, free() it; *len bytes, not
 * NUL-terminated), at most max bytes. NULL with one line in err: the file
 * cannot be opened (naming --config), is larger than max, or a read failed.
 */
char *svc_read_file(const char *path, size_t max, size_t *len, char *err, size_t errlen);

#endif
