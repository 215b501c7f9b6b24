#include "CCurl.h"
int ccurl_placeholder(void) { return 0; }
