#ifndef PAIRGATE_CZLIB_SHIM_H
#define PAIRGATE_CZLIB_SHIM_H
#include <zlib.h>
#endif
