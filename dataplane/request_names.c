/* The protocol's name rules: the byte classes of names and qualifiers, and the names of request types. */
#include <stdbool.h>
#include <string.h>

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

bool
request_type_of(const uint8_t *s, uint32_t len, enum request_type *t)
{
	if (len == 15 && memcmp(s, "RequestResponse", 15) == 0)
		*t = REQUEST_RESPONSE;
	else if (len == 5 && memcmp(s, "Event", 5) == 0)
		*t = REQUEST_EVENT;
	else if (len == 6 && memcmp(s, "DryRun", 6) == 0)
		*t = REQUEST_DRYRUN;
	else
		return false;
	return true;
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
