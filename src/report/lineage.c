/* lineage.c — OpenLineage RunEvents (spec 2-0-2) for a run: START when it
 * begins, COMPLETE or FAIL when it ends, with the job (OPENLINEAGE_NAMESPACE,
 * "sales_data_aggregation"), the input files as datasets and the outputs
 * (the processed Parquet files and rejects.csv; the warehouse tables once
 * load succeeded) with the outputStatistics and dataQualityMetrics facets.
 * Sent as the OpenLineage HTTP transport does (POST of the JSON to
 * OPENLINEAGE_URL) and/or appended as one line to OPENLINEAGE_FILE. A sink
 * failure is returned for a warning; the URL is only ever shown masked. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../util/json.h"
#include "../util/version.h"
#include "report.h"

#define PRODUCER "urn:salespipe:" SP_VERSION
#define SPEC "https://openlineage.io/spec/"
#define RUN_EVENT_SCHEMA SPEC "2-0-2/OpenLineage.json#/$defs/RunEvent"
#define STATS_SCHEMA \
    SPEC "facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"
#define DQ_SCHEMA \
    SPEC "facets/1-0-0/DataQualityMetricsDatasetFacet.json#/$defs/DataQualityMetricsDatasetFacet"
#define ERROR_SCHEMA SPEC "facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
#define JOB_NAME "sales_data_aggregation"

void rp_lineage_uuid(const char *run_id, char out[37])
{
    /* RFC 4122 §4.3: SHA-1 of a namespace UUID (here the URL namespace,
     * 6ba7b811-…) followed by the name. */
    static const unsigned char NS_URL[16] = {0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                             0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8};
    unsigned char md[EVP_MAX_MD_SIZE] = {0};
    unsigned int len = 0;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    if (c && EVP_DigestInit_ex(c, EVP_sha1(), NULL) == 1) {
        static const char PREFIX[] = "salespipe:run:";
        EVP_DigestUpdate(c, NS_URL, sizeof NS_URL);
        EVP_DigestUpdate(c, PREFIX, sizeof PREFIX - 1);
        EVP_DigestUpdate(c, run_id, strlen(run_id));
        EVP_DigestFinal_ex(c, md, &len);
    }
    EVP_MD_CTX_free(c);
    md[6] = (unsigned char)((md[6] & 0x0F) | 0x50); /* version 5 */
    md[8] = (unsigned char)((md[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    int o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        o += snprintf(out + o, 3, "%02x", md[i]);
    }
    out[o] = '\0';
}

static void now_rfc3339(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%.20s.%03dZ", base, (int)(ts.tv_nsec / 1000000 % 1000));
}

static void facet_head(sp_buf *b, const char *name, const char *schema)
{
    sp_buf_printf(b, "\"%s\":{\"_producer\":\"%s\",\"_schemaURL\":\"%s\"", name, PRODUCER,
                  schema);
}

static void dataset_head(sp_buf *b, const char *ns, const char *name, bool *first)
{
    sp_buf_puts(b, *first ? "{\"namespace\":" : ",{\"namespace\":");
    *first = false;
    sp_json_cstr(b, ns);
    sp_buf_puts(b, ",\"name\":");
    sp_json_cstr(b, name);
}

/* The outputStatistics facet (rows; size when known) and its closing braces. */
static void statistics(sp_buf *b, long long rows, long long bytes)
{
    sp_buf_puts(b, ",\"outputFacets\":{");
    facet_head(b, "outputStatistics", STATS_SCHEMA);
    sp_buf_printf(b, ",\"rowCount\":%lld", rows);
    if (bytes >= 0)
        sp_buf_printf(b, ",\"size\":%lld,\"fileCount\":1", bytes);
    sp_buf_puts(b, "}}}");
}

/* The facets of one output: its statistics, and for the facts the data
 * quality figures (no column of ours is nullable: nullCount 0 is known)
 * with the rejects by reason. */
static void output_facets(sp_buf *b, const rp_data *d, int table, long long rows, long long bytes)
{
    sp_buf_puts(b, ",\"facets\":{");
    facet_head(b, "dataQualityMetrics", DQ_SCHEMA);
    sp_buf_printf(b, ",\"rowCount\":%lld", rows);
    if (bytes >= 0)
        sp_buf_printf(b, ",\"bytes\":%lld,\"fileCount\":1", bytes);
    sp_buf_puts(b, ",\"columnMetrics\":{");
    static const char *const COLS[3][10] = {
        {"order_date", "day", "month", "quarter", "year"},
        {"product_id", "category"},
        {"order_date", "product_id", "quantity", "total_sales", "profit", "unit_price",
         "profit_margin", "ship_date", "source_file", "source_line"}};
    for (int c = 0; table >= 0 && c < 10 && COLS[table][c]; c++)
        sp_buf_printf(b, "%s\"%s\":{\"nullCount\":0,\"count\":%lld}", c ? "," : "",
                      COLS[table][c], rows);
    sp_buf_puts(b, "}");
    if (table == 2 || table < 0) {
        long long total = 0;
        for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++)
            total += d->rejected[r];
        sp_buf_printf(b, ",\"rowsIn\":%lld,\"rejectedRowCount\":%lld,\"rejectedByReason\":{",
                      d->rows_in, total);
        for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++)
            sp_buf_printf(b, "%s\"%s\":%lld", r > RULES_MALFORMED ? "," : "",
                          rules_reason_name((rules_reason)r), d->rejected[r]);
        sp_buf_puts(b, "}");
    }
    sp_buf_puts(b, "}}");
    statistics(b, rows, bytes);
}

/* A warehouse's dataset namespace and name prefix: "postgres://host:port"
 * and "db.public." from "postgresql://user@host:port/db"; "sqlite:PATH". */
static void warehouse_names(const char *w, char *ns, size_t nsz, char *pre, size_t psz)
{
    if (strncmp(w, "postgresql://", 13) == 0) {
        const char *auth = w + 13, *at = strchr(auth, '@'), *slash = strchr(auth, '/');
        if (at && (!slash || at < slash))
            auth = at + 1;
        size_t hostlen = slash ? (size_t)(slash - auth) : strlen(auth);
        snprintf(ns, nsz, "postgres://%.*s", (int)hostlen, auth);
        snprintf(pre, psz, "%s.public.", slash ? slash + 1 : "");
    } else {
        snprintf(ns, nsz, "%s", w);
        pre[0] = '\0';
    }
}

static void datasets(sp_buf *b, const rp_data *d)
{
    sp_buf_puts(b, ",\"inputs\":[");
    bool first = true;
    for (int i = 0; d->has_manifest && i < d->ninputs; i++) {
        char name[2048];
        snprintf(name, sizeof name, "%s%s", d->prefix, d->inputs[i].file);
        dataset_head(b, d->raw_url, name, &first);
        sp_buf_puts(b, "}");
    }
    sp_buf_puts(b, "],\"outputs\":[");
    first = true;
    static const char *const T[3] = {"dim_date", "dim_product", "fact_sales"};
    if (d->has_manifest) {
        for (int t = 0; t < 3; t++) {
            char name[2048];
            snprintf(name, sizeof name, "%s%s.parquet", d->prefix, T[t]);
            dataset_head(b, d->processed_url, name, &first);
            output_facets(b, d, t, d->tables[t], d->table_bytes[t]);
        }
        long long rejected = 0;
        for (int r = RULES_MALFORMED; r < RULES_NREASONS; r++)
            rejected += d->rejected[r];
        char name[2048];
        snprintf(name, sizeof name, "%srejects.csv", d->prefix);
        dataset_head(b, d->processed_url, name, &first);
        statistics(b, rejected, d->rejects_bytes);
    }
    bool loaded = false;
    for (int t = 0; t < d->ntasks; t++)
        loaded |= strcmp(d->tasks[t].name, "load") == 0 &&
                  strcmp(d->tasks[t].state, "succeeded") == 0;
    if (loaded && d->warehouse[0] && d->has_manifest) {
        char ns[600], pre[300];
        warehouse_names(d->warehouse, ns, sizeof ns, pre, sizeof pre);
        for (int t = 0; t < 3; t++) {
            char name[400];
            snprintf(name, sizeof name, "%s%s", pre, T[t]);
            dataset_head(b, ns, name, &first);
            output_facets(b, d, t, d->tables[t], -1);
        }
    }
    sp_buf_puts(b, "]");
}

void rp_lineage_event(sp_buf *b, const sp_config *cfg, const char *type, const char *run_id,
                      const char *ds, const rp_data *d)
{
    char when[40], uuid[37];
    now_rfc3339(when);
    rp_lineage_uuid(run_id, uuid);
    sp_buf_printf(b, "{\"eventType\":\"%s\",\"eventTime\":\"%s\",\"run\":{\"runId\":\"%s\"",
                  type, when, uuid);
    sp_buf_puts(b, ",\"facets\":{");
    facet_head(b, "salespipe", SPEC "2-0-2/OpenLineage.json#/$defs/RunFacet");
    sp_buf_puts(b, ",\"runId\":");
    sp_json_cstr(b, run_id);
    sp_buf_puts(b, ",\"ds\":");
    sp_json_cstr(b, ds);
    sp_buf_puts(b, "}");
    if (d && strcmp(type, "FAIL") == 0 && d->error[0]) {
        sp_buf_puts(b, ",");
        facet_head(b, "errorMessage", ERROR_SCHEMA);
        sp_buf_puts(b, ",\"message\":");
        sp_json_cstr(b, d->error);
        sp_buf_puts(b, ",\"programmingLanguage\":\"C\"}");
    }
    sp_buf_puts(b, "}},\"job\":{\"namespace\":");
    sp_json_cstr(b, sp_config_get(cfg, "OPENLINEAGE_NAMESPACE"));
    sp_buf_puts(b, ",\"name\":\"" JOB_NAME "\"}");
    if (d)
        datasets(b, d);
    else
        sp_buf_puts(b, ",\"inputs\":[],\"outputs\":[]");
    sp_buf_puts(b, ",\"producer\":\"" PRODUCER "\",\"schemaURL\":\"" RUN_EVENT_SCHEMA "\"}");
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p, (void)arg;
    return size * n;
}

static int post(const sp_config *cfg, const char *event, size_t n, sp_error *err)
{
    char shown[1024];
    sp_config_display(cfg, "OPENLINEAGE_URL", shown, sizeof shown);
    CURL *c = curl_easy_init();
    if (!c)
        return sp_fail(err, SP_ERR_NOMEM, "OPENLINEAGE_URL %s: curl_easy_init failed", shown);
    char errbuf[CURL_ERROR_SIZE] = "";
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, sp_config_get(cfg, "OPENLINEAGE_URL"));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 15L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, event);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)n);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "salespipe/" SP_VERSION);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    /* curl's messages may quote the URL: never pass them through. */
    if (rc != CURLE_OK)
        return sp_fail_retry(err, SP_ERR_NET, "OPENLINEAGE_URL %s: not delivered: %s", shown,
                             curl_easy_strerror(rc));
    if (status < 200 || status > 299)
        return sp_fail(err, SP_ERR_NET, "OPENLINEAGE_URL %s: not delivered: HTTP %ld", shown,
                       status);
    return SP_OK;
}

static int append_line(const char *path, const char *event, size_t n, sp_error *err)
{
    char *line = malloc(n + 1);
    if (!line)
        return sp_fail(err, SP_ERR_NOMEM, "OPENLINEAGE_FILE %s: out of memory", path);
    memcpy(line, event, n);
    line[n] = '\n';
    int rc = SP_OK;
    /* One write with O_APPEND: lines of concurrent runs never interleave. */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, line, n + 1) != (ssize_t)(n + 1))
        rc = sp_fail(err, SP_ERR_IO, "OPENLINEAGE_FILE %s: %s", path, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && rc == SP_OK)
        rc = sp_fail(err, SP_ERR_IO, "OPENLINEAGE_FILE %s: %s", path, strerror(errno));
    free(line);
    return rc;
}

int rp_lineage_send(const sp_config *cfg, const char *event, size_t n, sp_error *err)
{
    const char *url = sp_config_get(cfg, "OPENLINEAGE_URL");
    const char *file = sp_config_get(cfg, "OPENLINEAGE_FILE");
    int rc = SP_OK;
    sp_error e;
    if (file && *file && append_line(file, event, n, &e) != SP_OK) {
        *err = e;
        rc = e.code;
    }
    if (url && *url && post(cfg, event, n, &e) != SP_OK) {
        *err = e;
        rc = e.code;
    }
    return rc;
}
