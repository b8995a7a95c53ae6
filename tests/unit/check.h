/* check.h: the test harness every C test shares. CHECK(cond, fmt, ...) counts a pass or prints the
 * failure with its location; check_report() prints the closing "N passed, M failed" line that ctest's
 * readers look for and returns the exit status. */
#ifndef GC_CHECK_H
#define GC_CHECK_H

#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                                                                     \
  do {                                                                                                       \
    if (cond) {                                                                                              \
      passed++;                                                                                              \
    } else {                                                                                                 \
      failed++;                                                                                              \
      printf("FAIL %s:%d: ", __FILE__, __LINE__);                                                            \
      printf(__VA_ARGS__);                                                                                   \
      printf("\n");                                                                                          \
    }                                                                                                        \
  } while (0)

static int check_report(void) {
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}

#endif
