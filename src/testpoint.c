/*
 * testpoint.c - the one hook of testpoint.h.
 */
#include <stddef.h>

#include "testpoint.h"

void (*fp_test_hook)(int point);
