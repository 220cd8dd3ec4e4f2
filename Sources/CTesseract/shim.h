#ifndef BOTGATEWAY_CTESSERACT_SHIM_H
#define BOTGATEWAY_CTESSERACT_SHIM_H
#include <leptonica/allheaders.h>
#include <tesseract/capi.h>
#endif
