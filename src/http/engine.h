/* The blocking driver: runs one transfer to completion on a slot of the pool by looping over
 * curl_multi_perform / curl_multi_poll on the slot's multi handle. (An event-loop driver would
 * add the same bound easy handle to its own multi and use curl_multi_socket_action; the transfer
 * state machine in transfer.c is the same.) */
#ifndef MANTLE_HTTP_ENGINE_H
#define MANTLE_HTTP_ENGINE_H

#include <mantle/error.h>

#include "http/pool.h"
#include "http/transfer.h"

/* Performs rq. MANTLE_OK means the transfer ran: its result is in t->outcome (a response, or a
 * connection failure, a timeout...). Other codes mean it could not start (no memory, an option
 * libcurl refused, a multi-handle failure), with err filled. */
mantle_code http_perform(struct http_pool *pool, const struct http_request *rq,
                         struct http_transfer *t, struct mantle_error *err);

#endif
