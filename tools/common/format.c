/* The tools' human-readable output: aligned tables and "name value" lines from JSON. */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "format.h"

#define FORMAT_GAP "  "

/* A table column once the rows are known: its width and alignment depend on every cell. */
struct format_col {
	const char *key;
	char *header;
	enum format_kind kind;
	size_t width;
	bool right;
};

/* One "name value" line before the names' widest is known. */
struct format_line {
	char *name;
	char *value;
};

struct format_lines {
	struct format_line *v;
	size_t n;
	size_t cap;
};

/* Columns line up on characters, not bytes: count UTF-8 lead bytes only. */
static size_t
format_width(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

static void
format_pad(FILE *out, size_t n)
{
	while (n-- > 0)
		fputc(' ', out);
}

/* A control character in a name or message would break the alignment of every line after it. */
static char *
format_sanitize(const char *s)
{
	char *copy = strdup(s);
	char *p;

	if (copy == NULL)
		return NULL;
	for (p = copy; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return copy;
}

static bool
format_is_scalar(const json_t *v)
{
	return !json_is_object(v) && !json_is_array(v);
}

/* A string that holds a number, as an rte_telemetry reply must carry any fraction. */
static bool
format_string_number(const char *s, double *d)
{
	char *end;

	if (*s == '\0' || isspace((unsigned char)*s))
		return false;
	errno = 0;
	*d = strtod(s, &end);
	return errno == 0 && *end == '\0';
}

static char *format_value(const json_t *v, enum format_kind kind);

/* Scalars joined by ',': how a list of names or per-worker numbers reads best in one cell. */
static char *
format_join(const json_t *array)
{
	char *joined = NULL;
	size_t len = 0;
	FILE *mem;
	size_t i;
	json_t *e;

	mem = open_memstream(&joined, &len);
	if (mem == NULL)
		return NULL;
	json_array_foreach(array, i, e) {
		char *s = format_value(e, FORMAT_PLAIN);

		if (s == NULL) {
			fclose(mem);
			free(joined);
			return NULL;
		}
		fprintf(mem, "%s%s", i > 0 ? "," : "", s);
		free(s);
	}
	if (fclose(mem) != 0) {
		free(joined);
		return NULL;
	}
	return joined;
}

static char *
format_value(const json_t *v, enum format_kind kind)
{
	char *s = NULL;
	double d;
	size_t i;
	json_t *e;

	if (v == NULL || json_is_null(v))
		return strdup("-");
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (kind == FORMAT_PERCENT && format_string_number(json_string_value(v), &d))
			return asprintf(&s, "%.1f%%", d * 100) < 0 ? NULL : s;
		if (kind == FORMAT_YESNO && strcmp(json_string_value(v), "true") == 0)
			return strdup("yes");
		if (kind == FORMAT_YESNO && strcmp(json_string_value(v), "false") == 0)
			return strdup("no");
		if (json_string_length(v) == 0)
			return strdup("-");
		return format_sanitize(json_string_value(v));
	case JSON_INTEGER:
		if (kind == FORMAT_YESNO)
			return strdup(json_integer_value(v) != 0 ? "yes" : "no");
		return asprintf(&s, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0 ? NULL : s;
	case JSON_REAL:
		if (kind == FORMAT_PERCENT)
			return asprintf(&s, "%.1f%%", json_real_value(v) * 100) < 0 ? NULL : s;
		return asprintf(&s, "%.15g", json_real_value(v)) < 0 ? NULL : s;
	case JSON_TRUE:
		return strdup(kind == FORMAT_YESNO ? "yes" : "true");
	case JSON_FALSE:
		return strdup(kind == FORMAT_YESNO ? "no" : "false");
	case JSON_ARRAY:
		if (json_array_size(v) == 0)
			return strdup("-");
		json_array_foreach(v, i, e)
			if (!format_is_scalar(e))
				break;
		if (i == json_array_size(v))
			return format_join(v);
		break;
	case JSON_OBJECT:
		if (json_object_size(v) == 0)
			return strdup("-");
		break;
	default:
		break;
	}
	/* Deeper structure in one cell: compact JSON (control characters escaped) says what it is. */
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static bool
format_column_listed(const struct format_column *list, const char *key)
{
	for (; list != NULL && list->key != NULL; list++)
		if (strcmp(list->key, key) == 0)
			return true;
	return false;
}

static bool
format_any_row_has(const json_t *rows, const char *key)
{
	const char *name;
	json_t *row;

	json_object_foreach((json_t *)rows, name, row)
		if (json_object_get(row, key) != NULL)
			return true;
	return false;
}

static char *
format_upper(const char *s)
{
	char *copy = format_sanitize(s);
	char *p;

	for (p = copy; p != NULL && *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	return copy;
}

static int
format_add_col(struct format_col *cols, size_t *n, const char *key, const char *header,
	       enum format_kind kind)
{
	struct format_col *c = &cols[*n];

	c->key = key;
	c->header = header != NULL ? strdup(header) : format_upper(key);
	if (c->header == NULL)
		return -ENOMEM;
	c->kind = kind;
	c->width = format_width(c->header);
	/* Numbers read best right-aligned; a single cell that is not one turns that off. */
	c->right = true;
	(*n)++;
	return 0;
}

/* Worst case every member of every row is a column of its own, plus the listed ones. */
static size_t
format_max_cols(const json_t *rows, const struct format_table_spec *spec)
{
	const struct format_column *c;
	const char *name;
	json_t *row;
	size_t n = 1;

	for (c = spec->lead; c != NULL && c->key != NULL; c++)
		n++;
	for (c = spec->trail; c != NULL && c->key != NULL; c++)
		n++;
	json_object_foreach((json_t *)rows, name, row)
		n += json_object_size(row);
	return n;
}

static int
format_columns(const json_t *rows, const struct format_table_spec *spec, struct format_col *cols,
	       size_t *n)
{
	const struct format_column *c;
	const char *name, *key;
	json_t *row, *v;
	size_t i;

	if (format_add_col(cols, n, NULL, spec->name_header, FORMAT_PLAIN) < 0)
		return -ENOMEM;
	cols[0].right = false;
	for (c = spec->lead; c != NULL && c->key != NULL; c++)
		if (format_any_row_has(rows, c->key) &&
		    format_add_col(cols, n, c->key, c->header, c->kind) < 0)
			return -ENOMEM;
	json_object_foreach((json_t *)rows, name, row) {
		json_object_foreach(row, key, v) {
			if (format_column_listed(spec->lead, key) ||
			    format_column_listed(spec->trail, key))
				continue;
			for (i = 0; i < *n; i++)
				if (cols[i].key != NULL && strcmp(cols[i].key, key) == 0)
					break;
			if (i == *n && format_add_col(cols, n, key, NULL, FORMAT_PLAIN) < 0)
				return -ENOMEM;
		}
	}
	for (c = spec->trail; c != NULL && c->key != NULL; c++)
		if (format_any_row_has(rows, c->key) &&
		    format_add_col(cols, n, c->key, c->header, c->kind) < 0)
			return -ENOMEM;
	return 0;
}

/* A version may be all digits yet is a label: only JSON numbers (and percentages) align right. */
static bool
format_is_number(const json_t *v, enum format_kind kind)
{
	double d;

	if (v == NULL || json_is_null(v))
		return true;
	if (kind == FORMAT_YESNO)
		return false;
	if (kind == FORMAT_PERCENT && json_is_string(v))
		return format_string_number(json_string_value(v), &d);
	return json_is_number(v);
}

static void
format_print_cell(FILE *out, const struct format_col *c, const char *text, bool last)
{
	size_t pad = c->width - format_width(text);

	if (c->right)
		format_pad(out, pad);
	fputs(text, out);
	if (!c->right && !last)
		format_pad(out, pad);
	fputs(last ? "\n" : FORMAT_GAP, out);
}

static bool
format_is_rows(const json_t *rows)
{
	const char *name;
	json_t *row;

	if (!json_is_object(rows))
		return false;
	json_object_foreach((json_t *)rows, name, row)
		if (!json_is_object(row))
			return false;
	return true;
}

int
format_table(FILE *out, const json_t *rows, const struct format_table_spec *spec)
{
	size_t nb_rows, nb_cols = 0, max_cols, r, i;
	struct format_col *cols;
	char **cells = NULL;
	const char *name;
	json_t *row;
	int rc = -ENOMEM;

	if (!format_is_rows(rows))
		return -EINVAL;
	nb_rows = json_object_size(rows);
	max_cols = format_max_cols(rows, spec);
	cols = calloc(max_cols, sizeof(*cols));
	if (cols == NULL)
		return -ENOMEM;
	if (format_columns(rows, spec, cols, &nb_cols) < 0)
		goto out;
	cells = calloc(nb_rows * nb_cols + 1, sizeof(*cells));
	if (cells == NULL)
		goto out;

	r = 0;
	json_object_foreach((json_t *)rows, name, row) {
		for (i = 0; i < nb_cols; i++) {
			const json_t *v = NULL;
			char *text;

			if (i == 0) {
				text = format_sanitize(name);
			} else {
				v = json_object_get(row, cols[i].key);
				text = format_value(v, cols[i].kind);
				if (!format_is_number(v, cols[i].kind))
					cols[i].right = false;
			}
			if (text == NULL)
				goto out;
			cells[r * nb_cols + i] = text;
			if (format_width(text) > cols[i].width)
				cols[i].width = format_width(text);
		}
		r++;
	}

	for (i = 0; i < nb_cols; i++)
		format_print_cell(out, &cols[i], cols[i].header, i + 1 == nb_cols);
	for (r = 0; r < nb_rows; r++)
		for (i = 0; i < nb_cols; i++)
			format_print_cell(out, &cols[i], cells[r * nb_cols + i], i + 1 == nb_cols);
	rc = 0;
out:
	if (cells != NULL)
		for (i = 0; i < nb_rows * nb_cols; i++)
			free(cells[i]);
	free(cells);
	for (i = 0; i < nb_cols; i++)
		free(cols[i].header);
	free(cols);
	return rc;
}

static int
format_lines_add(struct format_lines *l, const char *name, const json_t *v)
{
	struct format_line *line;

	if (l->n == l->cap) {
		size_t cap = l->cap == 0 ? 32 : l->cap * 2;
		struct format_line *grown = realloc(l->v, cap * sizeof(*grown));

		if (grown == NULL)
			return -ENOMEM;
		l->v = grown;
		l->cap = cap;
	}
	line = &l->v[l->n];
	line->name = format_sanitize(name);
	line->value = format_value(v, FORMAT_PLAIN);
	if (line->name == NULL || line->value == NULL) {
		free(line->name);
		free(line->value);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

/* Objects and arrays of objects open into one line per leaf; a list of scalars stays one line. */
static int
format_flatten(struct format_lines *l, const char *prefix, const json_t *v)
{
	const char *key;
	char *name;
	size_t i;
	json_t *e;
	int rc = 0;

	if (json_is_object(v) && json_object_size(v) > 0) {
		json_object_foreach((json_t *)v, key, e) {
			if (prefix[0] == '\0')
				name = strdup(key);
			else if (asprintf(&name, "%s.%s", prefix, key) < 0)
				name = NULL;
			if (name == NULL)
				return -ENOMEM;
			rc = format_flatten(l, name, e);
			free(name);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if (!format_is_scalar(e))
				break;
		if (i < json_array_size(v)) {
			json_array_foreach(v, i, e) {
				if (asprintf(&name, "%s%s%zu", prefix, prefix[0] != '\0' ? "." : "", i) < 0)
					return -ENOMEM;
				rc = format_flatten(l, name, e);
				free(name);
				if (rc < 0)
					return rc;
			}
			return 0;
		}
	}
	return format_lines_add(l, prefix, v);
}

int
format_lines(FILE *out, const json_t *data)
{
	struct format_lines l = { 0 };
	size_t width = 0, i;
	int rc;

	rc = format_flatten(&l, "", data);
	if (rc == 0) {
		for (i = 0; i < l.n; i++)
			if (format_width(l.v[i].name) > width)
				width = format_width(l.v[i].name);
		for (i = 0; i < l.n; i++) {
			/* A bare value (the reply was no object) has no name to line up. */
			if (l.v[i].name[0] == '\0') {
				fprintf(out, "%s\n", l.v[i].value);
				continue;
			}
			fputs(l.v[i].name, out);
			format_pad(out, width - format_width(l.v[i].name));
			fprintf(out, FORMAT_GAP "%s\n", l.v[i].value);
		}
	}
	for (i = 0; i < l.n; i++) {
		free(l.v[i].name);
		free(l.v[i].value);
	}
	free(l.v);
	return rc;
}

int
format_auto(FILE *out, const json_t *data)
{
	static const struct format_table_spec spec = { .name_header = "KEY" };

	if (json_object_size(data) > 0 && format_is_rows(data))
		return format_table(out, data, &spec);
	return format_lines(out, data);
}
