/* A small, strict reader for the few elements mantle needs from STS query-protocol responses
 * (Credentials/AccessKeyId..., ErrorResponse/Error/Code...). Not a general XML parser: no DTDs
 * (a DOCTYPE is refused, so no entity expansion), only the five predefined entities and character
 * references, namespace prefixes dropped from element names. Input, depth and name lengths are
 * bounded so hostile or truncated responses cost little and fail cleanly. */
#ifndef MANTLE_CREDENTIALS_STS_XML_H
#define MANTLE_CREDENTIALS_STS_XML_H

#include <mantle/error.h>
#include <stddef.h>

#define STS_XML_MAX_BYTES (256u * 1024u)
#define STS_XML_MAX_DEPTH 16
#define STS_XML_MAX_NAME 128

/* Walks the whole document (which must be well-formed: one root element, matching tags) and, for
 * each of the n paths (local element names from the root joined by '/', e.g.
 * "AssumeRoleResponse/AssumeRoleResult/Credentials/AccessKeyId"), stores in values[i] a malloc'd
 * copy of that element's text with entities decoded, or NULL when the element is absent. Only
 * elements without child elements have text; an element that occurs twice is an error.
 * Returns MANTLE_E_PROTOCOL "... (offset N: reason)" for malformed input (never quoting it),
 * MANTLE_E_NOMEM; on error every values[i] is NULL. */
mantle_code sts_xml_extract(const char *xml, size_t len, const char *const *paths, size_t n,
                            char **values, struct mantle_error *err);

/* Wipes and frees the n values (they may hold secrets), leaving them NULL. */
void sts_xml_values_free(char **values, size_t n);

#endif
