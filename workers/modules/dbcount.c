/* Handler: one MariaDB/MySQL connection per environment, a counter row bumped per call. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include <turbine/handler.h>

#define DBCOUNT_ZONE_CHUNK_SIZE (64u * 1024u)
#define DBCOUNT_CONNECT_TIMEOUT_S 5u

/*
 * The schema the module needs, created in init when missing, so that a fresh
 * database works. LAST_INSERT_ID(expr) hands the incremented value back with
 * the UPDATE's own reply: one round trip, and each call sees its own value
 * even when several environments update the row at once.
 */
static const char dbcount_sql_table[] =
	"CREATE TABLE IF NOT EXISTS hits (id INT PRIMARY KEY, n BIGINT UNSIGNED NOT NULL)";
static const char dbcount_sql_row[] = "INSERT IGNORE INTO hits (id, n) VALUES (1, 0)";
static const char dbcount_sql_bump[] = "UPDATE hits SET n = LAST_INSERT_ID(n + 1) WHERE id = 1";

struct dbcount {
	MYSQL *db;
	msgpack_zone zone;
};

/* Calls inside handle right now, and the most there ever were, over every environment. */
static unsigned int dbcount_inside;
static unsigned int dbcount_peak;

/*
 * Environments holding the client library: the last one to go releases its
 * global state with mysql_library_end(), so that nothing of it outlives the
 * module. init and fini run on the control thread, one at a time.
 */
static unsigned int dbcount_users;

static void
dbcount_library_release(void)
{
	if (__atomic_sub_fetch(&dbcount_users, 1, __ATOMIC_ACQ_REL) == 0)
		mysql_library_end();
}

struct dbcount_params {
	const char *socket;
	const char *host;
	const char *user;
	const char *password;
	const char *database;
	unsigned int port;
};

/* "key=value" strings from the configuration into p; -EINVAL on an unknown key or bad port. */
static int
dbcount_params_parse(const struct turbine_env_config *cfg, struct dbcount_params *p)
{
	const char *const *kv;

	memset(p, 0, sizeof(*p));
	for (kv = cfg->params; kv != NULL && *kv != NULL; kv++) {
		const char *eq = strchr(*kv, '=');
		size_t klen = eq != NULL ? (size_t)(eq - *kv) : strlen(*kv);
		const char *v = eq != NULL ? eq + 1 : "";
		char *end;

		if (klen == 6 && memcmp(*kv, "socket", 6) == 0) {
			p->socket = v;
		} else if (klen == 4 && memcmp(*kv, "host", 4) == 0) {
			p->host = v;
		} else if (klen == 4 && memcmp(*kv, "user", 4) == 0) {
			p->user = v;
		} else if (klen == 8 && memcmp(*kv, "password", 8) == 0) {
			p->password = v;
		} else if (klen == 8 && memcmp(*kv, "database", 8) == 0) {
			p->database = v;
		} else if (klen == 4 && memcmp(*kv, "port", 4) == 0) {
			unsigned long port = strtoul(v, &end, 10);

			if (*v == '\0' || *end != '\0' || port == 0 || port > 65535) {
				turbine_init_error(cfg, "dbcount: bad port \"%s\"", v);
				return -EINVAL;
			}
			p->port = (unsigned int)port;
		} else {
			turbine_init_error(cfg, "dbcount: unknown param \"%.*s\" (socket, host, port, "
					   "user, password, database)", (int)klen, *kv);
			return -EINVAL;
		}
	}
	if (p->database == NULL) {
		turbine_init_error(cfg, "dbcount: params need database");
		return -EINVAL;
	}
	return 0;
}

static int
dbcount_connect(const struct turbine_env_config *cfg, struct dbcount *d)
{
	struct dbcount_params p;
	unsigned int connect_s = DBCOUNT_CONNECT_TIMEOUT_S;
	/* A stuck query gives the worker back shortly after the function's own timeout. */
	unsigned int io_s = cfg->timeout_ms / 1000u + 1u;
	/*
	 * After a lost connection (a server restart, an I/O timeout) the next
	 * query opens a new one in its place: still one per environment.
	 */
	my_bool reconnect = 1;
	int rc;

	rc = dbcount_params_parse(cfg, &p);
	if (rc != 0)
		return rc;
	__atomic_add_fetch(&dbcount_users, 1, __ATOMIC_ACQ_REL);
	d->db = mysql_init(NULL);
	if (d->db == NULL) {
		dbcount_library_release();
		turbine_init_error(cfg, "dbcount: mysql_init: out of memory");
		return -ENOMEM;
	}
	mysql_options(d->db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_s);
	mysql_options(d->db, MYSQL_OPT_READ_TIMEOUT, &io_s);
	mysql_options(d->db, MYSQL_OPT_WRITE_TIMEOUT, &io_s);
	mysql_options(d->db, MYSQL_OPT_RECONNECT, &reconnect);
	if (mysql_real_connect(d->db, p.host, p.user, p.password, p.database, p.port, p.socket,
			       0) == NULL) {
		turbine_init_error(cfg, "dbcount: cannot connect to %s: mysql error %u: %s",
				   p.socket != NULL ? p.socket : p.host != NULL ? p.host : "localhost",
				   mysql_errno(d->db), mysql_error(d->db));
		goto fail;
	}
	if (mysql_real_query(d->db, dbcount_sql_table, sizeof(dbcount_sql_table) - 1) != 0 ||
	    mysql_real_query(d->db, dbcount_sql_row, sizeof(dbcount_sql_row) - 1) != 0) {
		turbine_init_error(cfg, "dbcount: preparing table hits: mysql error %u: %s",
				   mysql_errno(d->db), mysql_error(d->db));
		goto fail;
	}
	return 0;

fail:
	mysql_close(d->db);
	d->db = NULL;
	dbcount_library_release();
	return -EIO;
}

static int
dbcount_init(const struct turbine_env_config *cfg, void **state)
{
	struct dbcount *d = calloc(1, sizeof(*d));
	int rc;

	if (d == NULL || !msgpack_zone_init(&d->zone, DBCOUNT_ZONE_CHUNK_SIZE)) {
		free(d);
		turbine_init_error(cfg, "dbcount: out of memory");
		return -ENOMEM;
	}
	rc = dbcount_connect(cfg, d);
	if (rc != 0) {
		msgpack_zone_destroy(&d->zone);
		free(d);
		return rc;
	}
	*state = d;
	return 0;
}

static void
dbcount_fini(void *state)
{
	struct dbcount *d = state;

	mysql_close(d->db);
	dbcount_library_release();
	msgpack_zone_destroy(&d->zone);
	free(d);
}

/* event.sleep_ms, 0 when the event is not a map with a non-negative integer there. */
static uint64_t
dbcount_sleep_ms(struct dbcount *d, const struct turbine_event *event)
{
	msgpack_object obj;
	size_t off = 0;
	uint32_t i;

	if (event->len == 0)
		return 0;
	msgpack_zone_clear(&d->zone);
	if (msgpack_unpack(event->data, event->len, &off, &d->zone, &obj) < 0 ||
	    obj.type != MSGPACK_OBJECT_MAP)
		return 0;
	for (i = 0; i < obj.via.map.size; i++) {
		const msgpack_object_kv *kv = &obj.via.map.ptr[i];

		if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 8 &&
		    memcmp(kv->key.via.str.ptr, "sleep_ms", 8) == 0)
			return kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER ?
			       kv->val.via.u64 : 0;
	}
	return 0;
}

static void
dbcount_enter(void)
{
	unsigned int now = __atomic_add_fetch(&dbcount_inside, 1, __ATOMIC_ACQ_REL);
	unsigned int peak = __atomic_load_n(&dbcount_peak, __ATOMIC_RELAXED);

	while (now > peak &&
	       !__atomic_compare_exchange_n(&dbcount_peak, &peak, now, true, __ATOMIC_RELAXED,
					    __ATOMIC_RELAXED))
		;
}

static void
dbcount_leave(void)
{
	__atomic_sub_fetch(&dbcount_inside, 1, __ATOMIC_ACQ_REL);
}

/*
 * The call's queries: the optional sleep (DO returns no result set, so
 * nothing is allocated for it), then the counter. 0, or -1 with the error
 * left in d->db.
 */
static int
dbcount_query(struct dbcount *d, uint64_t sleep_ms, uint64_t *n)
{
	char sql[48];
	int len;

	if (sleep_ms > 0) {
		len = snprintf(sql, sizeof(sql), "DO SLEEP(%llu.%03llu)",
			       (unsigned long long)(sleep_ms / 1000u),
			       (unsigned long long)(sleep_ms % 1000u));
		if (mysql_real_query(d->db, sql, (unsigned long)len) != 0)
			return -1;
	}
	if (mysql_real_query(d->db, dbcount_sql_bump, sizeof(dbcount_sql_bump) - 1) != 0)
		return -1;
	*n = mysql_insert_id(d->db);
	return mysql_affected_rows(d->db) == 1 ? 0 : 1;
}

static enum turbine_result
dbcount_handle(void *state, const struct turbine_event *event, const struct turbine_ctx *ctx,
	       struct turbine_resp *resp)
{
	struct dbcount *d = state;
	uint64_t sleep_ms = dbcount_sleep_ms(d, event);
	uint32_t left = turbine_remaining_ms(ctx);
	uint64_t n = 0;
	int rc;

	/* The sleep ends by the deadline: the reply is the function's, not a timeout. */
	if (sleep_ms > left)
		sleep_ms = left;

	dbcount_enter();
	rc = dbcount_query(d, sleep_ms, &n);
	dbcount_leave();
	if (rc < 0)
		return turbine_error(resp, "DatabaseError", "%s", mysql_error(d->db));
	if (rc > 0)
		return turbine_error(resp, "DatabaseError", "no row with id 1 in table hits");
	turbine_log(ctx, "n %llu on connection %lu", (unsigned long long)n,
		    mysql_thread_id(d->db));

	msgpack_pack_map(&resp->pk, 4);
	msgpack_pack_str_with_body(&resp->pk, "n", 1);
	msgpack_pack_uint64(&resp->pk, n);
	msgpack_pack_str_with_body(&resp->pk, "worker", 6);
	msgpack_pack_unsigned_int(&resp->pk, ctx->worker_id);
	msgpack_pack_str_with_body(&resp->pk, "peak", 4);
	msgpack_pack_unsigned_int(&resp->pk, __atomic_load_n(&dbcount_peak, __ATOMIC_RELAXED));
	/* The server's id for this environment's connection: it changes only on a reconnect. */
	msgpack_pack_str_with_body(&resp->pk, "conn", 4);
	msgpack_pack_unsigned_long(&resp->pk, mysql_thread_id(d->db));
	return TURBINE_OK;
}

TURBINE_HANDLER(.name = "dbcount", .init = dbcount_init, .handle = dbcount_handle,
		.fini = dbcount_fini);
