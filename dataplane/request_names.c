/* The protocol's name rules: the byte classes of names and qualifiers, and the names of request types. */
#include <stdbool.h>

#include "request.h"
#include "request_names.h"

const uint8_t request_chars[256] = {
	['0' ... '9'] = REQUEST_CHAR_NAME | REQUEST_CHAR_QUALIFIER,
	['A' ... 'Z'] = REQUEST_CHAR_NAME | REQUEST_CHAR_QUALIFIER,
	['a' ... 'z'] = REQUEST_CHAR_NAME | REQUEST_CHAR_QUALIFIER,
	['_'] = REQUEST_CHAR_NAME | REQUEST_CHAR_QUALIFIER,
	['-'] = REQUEST_CHAR_NAME | REQUEST_CHAR_QUALIFIER,
	['$'] = REQUEST_CHAR_QUALIFIER,
};

bool
request_name_valid(const char *s, uint32_t len)
{
	return len >= 1 && len <= REQUEST_NAME_MAX &&
	       request_chars_of((const uint8_t *)s, len, REQUEST_CHAR_NAME) == len;
}

bool
request_qualifier_valid(const char *s, uint32_t len)
{
	return len >= 1 && len <= REQUEST_QUALIFIER_MAX &&
	       request_chars_of((const uint8_t *)s, len, REQUEST_CHAR_QUALIFIER) == len;
}

const char *
request_type_name(enum request_type t)
{
	switch (t) {
	case REQUEST_RESPONSE:
		return "RequestResponse";
	case REQUEST_EVENT:
		return "Event";
	case REQUEST_DRYRUN:
		return "DryRun";
	}
	return "unknown";
}
