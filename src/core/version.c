#include <mantle/common.h>

#include <stdlib.h>

const char *mantle_version(void)
{
    return MANTLE_VERSION_STRING;
}

void mantle_free(void *ptr)
{
    free(ptr);
}
