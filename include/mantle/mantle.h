/*
 * mantle/mantle.h - umbrella header: include this one.
 *
 * mantle calls Amazon Bedrock's OpenAI-compatible ("Mantle") endpoints from C, signing requests
 * with AWS Signature Version 4 or sending a Bedrock API key.
 */
#ifndef MANTLE_MANTLE_H
#define MANTLE_MANTLE_H

#include "common.h"
#include "error.h"
#include "sigv4.h"
#include "credentials.h"
#include "client.h"

#endif /* MANTLE_MANTLE_H */
