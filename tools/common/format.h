/* The tools' human-readable output: aligned tables and "name value" lines from JSON. */
#ifndef TOOLS_FORMAT_H
#define TOOLS_FORMAT_H

#include <stdio.h>

#include <jansson.h>

enum format_kind {
	FORMAT_PLAIN,   /* the value as it reads in JSON, strings unquoted */
	FORMAT_PERCENT, /* a fraction 0..1 (a number, or a string holding one) shown as a percentage */
	FORMAT_YESNO,   /* a truth value (true/false, or an integer as rte_telemetry has no boolean) */
};

/* One column of a table: the member of each row it shows, and its heading. */
struct format_column {
	const char *key;
	const char *header;
	enum format_kind kind;
};

/*
 * Which columns a table shows, in order: lead, then every member the rows carry that neither
 * list names (headed by the key in upper case), then trail. Both lists end with a NULL key;
 * a column no row carries is left out.
 */
struct format_table_spec {
	const char *name_header;             /* heading of the first column, the rows' names */
	const struct format_column *lead;
	const struct format_column *trail;
};

/* rows: an object whose members are objects. 0, -EINVAL for another shape, or -ENOMEM. */
int format_table(FILE *out, const json_t *rows, const struct format_table_spec *spec);

/* Aligned "name value" lines, nested members named by their path joined with ".". 0 or -ENOMEM. */
int format_lines(FILE *out, const json_t *data);

/* A table when data is an object of objects, lines otherwise. */
int format_auto(FILE *out, const json_t *data);

#endif /* TOOLS_FORMAT_H */
