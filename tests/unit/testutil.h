/* Shared include block for the cmocka unit tests (cmocka needs these first). */
#ifndef STOAT_TESTUTIL_H
#define STOAT_TESTUTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#endif
