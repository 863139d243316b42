/* Building replies: headers, JSON bodies and the three error shapes (AWS, OpenAI, Anthropic). */
#include "emulator.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reply_header(struct reply *r, const char *name, const char *fmt, ...)
{
    if (r->header_count == REPLY_MAX_HEADERS) return;
    size_t i = r->header_count++;
    snprintf(r->headers[i].name, sizeof r->headers[i].name, "%s", name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->headers[i].value, sizeof r->headers[i].value, fmt, ap);
    va_end(ap);
}

void reply_json(struct reply *r, unsigned status, json_t *json)
{
    free(r->body);
    r->body = NULL;
    r->body_len = 0;
    r->status = status;
    r->content_type = "application/json";
    if (json) {
        /* Compact, as the services send it; jansson keeps insertion order. */
        r->body = json_dumps(json, JSON_COMPACT);
        json_decref(json);
    }
    if (!r->body) {
        r->status = 500;
        r->body = strdup("{\"message\":\"out of memory\"}");
    }
    r->body_len = r->body ? strlen(r->body) : 0;
}

const char *aws_error_type_for(unsigned status)
{
    switch (status) {
    case 400:
        return "ValidationException";
    case 403:
        return "AccessDeniedException";
    case 404:
        return "ResourceNotFoundException";
    case 408:
        return "ModelTimeoutException";
    case 409:
        return "ConflictException";
    case 424:
        return "ModelErrorException";
    case 429:
        return "ThrottlingException";
    case 503:
        return "ServiceUnavailableException";
    default:
        return status >= 500 ? "InternalServerException" : "ValidationException";
    }
}

void reply_aws_error(struct reply *r, unsigned status, const char *type, const char *message)
{
    reply_json(r, status, json_pack("{s:s}", "message", message));
    reply_header(r, "x-amzn-errortype", "%s", type);
}

void reply_openai_error(struct reply *r, unsigned status, const char *type, const char *message,
                        const char *param, const char *code)
{
    json_t *err = json_pack("{s:s, s:s, s:o, s:o}", "message", message, "type", type, "param",
                            param ? json_string(param) : json_null(), "code",
                            code ? json_string(code) : json_null());
    reply_json(r, status, json_pack("{s:o}", "error", err));
    reply_header(r, "x-amzn-errortype", "%s", aws_error_type_for(status));
}

void reply_anthropic_error(struct reply *r, unsigned status, const char *type, const char *message)
{
    reply_json(r, status,
               json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", type, "message",
                         message));
    reply_header(r, "x-amzn-errortype", "%s", aws_error_type_for(status));
}

static const char *openai_type_for(unsigned status)
{
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 408:
        return "timeout_error";
    case 409:
        return "conflict_error";
    case 429:
        return "rate_limit_error";
    default:
        return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static const char *anthropic_type_for(unsigned status)
{
    switch (status) {
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 529:
        return "overloaded_error";
    default:
        return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

static bool is_anthropic_path(const struct request *rq)
{
    return strncmp(rq->path, "/anthropic/", 11) == 0;
}

void reply_error_for(struct reply *r, const struct request *rq, enum error_shape shape,
                     unsigned status, const char *message)
{
    if (shape == SHAPE_AUTO) shape = is_anthropic_path(rq) ? SHAPE_ANTHROPIC : SHAPE_OPENAI;
    switch (shape) {
    case SHAPE_ANTHROPIC:
        reply_anthropic_error(r, status, anthropic_type_for(status), message);
        break;
    case SHAPE_AWS:
        reply_aws_error(r, status, aws_error_type_for(status), message);
        break;
    default:
        reply_openai_error(r, status, openai_type_for(status), message, NULL,
                           status == 429 ? "rate_limit_exceeded" : NULL);
        break;
    }
}

void reply_free(struct reply *r)
{
    free(r->body);
    if (r->stream) sse_free(r->stream);
    memset(r, 0, sizeof *r);
}
