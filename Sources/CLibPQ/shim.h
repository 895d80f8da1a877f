#ifndef PAIRGATE_CLIBPQ_SHIM_H
#define PAIRGATE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
