#ifndef BOTGATEWAY_CCURL_H
#define BOTGATEWAY_CCURL_H

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: these typed
// wrappers are the whole of this target.
#include <curl/curl.h>

typedef size_t (*bg_curl_data_callback)(char *data, size_t size, size_t count, void *context);
typedef int (*bg_curl_progress_callback)(void *context, curl_off_t download_total, curl_off_t download_now,
                                         curl_off_t upload_total, curl_off_t upload_now);

CURLcode bg_curl_set_long(CURL *handle, CURLoption option, long value);
CURLcode bg_curl_set_offset(CURL *handle, CURLoption option, curl_off_t value);
CURLcode bg_curl_set_string(CURL *handle, CURLoption option, const char *value);
CURLcode bg_curl_set_pointer(CURL *handle, CURLoption option, void *value);
CURLcode bg_curl_set_data_callback(CURL *handle, CURLoption option, bg_curl_data_callback callback);
CURLcode bg_curl_set_progress_callback(CURL *handle, bg_curl_progress_callback callback);
CURLcode bg_curl_get_long(CURL *handle, CURLINFO info, long *value);
CURLcode bg_curl_get_pointer(CURL *handle, CURLINFO info, void **value);
CURLMcode bg_curl_multi_set_long(CURLM *multi, CURLMoption option, long value);

#endif
