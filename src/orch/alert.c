/* alert.c — the alert of a finally failed run: an HTTP POST of JSON to
 * ALERT_WEBHOOK_URL (Slack-compatible: it has a "text" field) and/or a mail
 * to ALERT_EMAIL through SMTP_URL (smtp:// with STARTTLS when offered, or
 * smtps://), both with libcurl and short timeouts. A delivery failure is
 * logged and counted, never returned as the run's error; URLs are shown only
 * masked (sp_config_display), so no password or webhook token is printed. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../util/buf.h"
#include "../util/json.h"
#include "../util/log.h"
#include "../util/version.h"
#include "orch.h"

#define CONNECT_TIMEOUT_S 5L
#define TOTAL_TIMEOUT_S 15L
#define MAX_RECIPIENTS 32

static void summary_line(const orch_alert *a, sp_buf *b)
{
    sp_buf_printf(b, "salespipe run %s (ds %s) failed at task %s after %d attempt%s: %s", a->run_id,
                  a->ds, a->task, a->attempts, a->attempts == 1 ? "" : "s",
                  a->error ? a->error : "(no error recorded)");
}

int orch_alert_json(const orch_alert *a, char **out, sp_error *err)
{
    *out = NULL;
    sp_buf b, text;
    sp_buf_init(&b, 1 << 20);
    sp_buf_init(&text, 1 << 16);
    summary_line(a, &text);
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    sp_buf_puts(&b, "{\"text\":");
    sp_json_string(&b, text.data ? (const char *)text.data : "", text.len);
    sp_buf_puts(&b, ",\"run_id\":");
    sp_json_cstr(&b, a->run_id);
    sp_buf_puts(&b, ",\"ds\":");
    sp_json_cstr(&b, a->ds);
    sp_buf_puts(&b, ",\"state\":\"failed\",\"task\":");
    sp_json_cstr(&b, a->task);
    sp_buf_printf(&b, ",\"attempts\":%d,\"error\":", a->attempts);
    sp_json_cstr(&b, a->error);
    sp_buf_puts(&b, ",\"rejected\":");
    /* The ledger stores the counts as a JSON object written by runner.c. */
    sp_buf_puts(&b, a->rejected && a->rejected[0] == '{' ? a->rejected : "null");
    /* The gates' results, a JSON array written by the pipeline (gates.c). */
    sp_buf_puts(&b, ",\"gates\":");
    sp_buf_puts(&b, a->gates && a->gates[0] == '[' ? a->gates : "null");
    sp_buf_puts(&b, ",\"host\":");
    sp_json_cstr(&b, host);
    sp_buf_puts(&b, "}");
    sp_buf_putc(&b, '\0');
    bool broken = b.broken || text.broken;
    sp_buf_free(&text);
    if (broken) {
        sp_buf_free(&b);
        return sp_fail(err, SP_ERR_NOMEM, "alert: out of memory");
    }
    *out = (char *)b.data;
    return SP_OK;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    (void)p, (void)arg;
    return size * n;
}

static void common_options(CURL *c, char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, TOTAL_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    errbuf[0] = '\0';
}

static const char *curl_reason(CURLcode rc, const char *errbuf)
{
    return errbuf[0] ? errbuf : curl_easy_strerror(rc);
}

static int send_webhook(const sp_config *cfg, const orch_alert *a)
{
    char shown[512];
    sp_config_display(cfg, "ALERT_WEBHOOK_URL", shown, sizeof shown);
    char *body = NULL;
    sp_error err;
    if (orch_alert_json(a, &body, &err) != SP_OK) {
        sp_log(SP_LOG_ERROR, "alert: webhook %s not sent: %s", shown, err.msg);
        return 1;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        free(body);
        sp_log(SP_LOG_ERROR, "alert: webhook %s not sent: curl_easy_init failed", shown);
        return 1;
    }
    char errbuf[CURL_ERROR_SIZE];
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    common_options(c, errbuf);
    curl_easy_setopt(c, CURLOPT_URL, sp_config_get(cfg, "ALERT_WEBHOOK_URL"));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "salespipe/" SP_VERSION);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    int failed = 1;
    if (rc != CURLE_OK)
        sp_log(SP_LOG_ERROR, "alert: webhook %s not delivered: %s", shown, curl_reason(rc, errbuf));
    else if (status < 200 || status > 299)
        sp_log(SP_LOG_ERROR, "alert: webhook %s not delivered: HTTP %ld", shown, status);
    else {
        sp_log(SP_LOG_INFO, "alert: webhook %s: delivered (HTTP %ld)", shown, status);
        failed = 0;
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(c);
    free(body);
    return failed;
}

typedef struct upload {
    const char *data;
    size_t len, pos;
} upload;

static size_t read_message(char *p, size_t size, size_t n, void *arg)
{
    upload *u = arg;
    size_t room = size * n, left = u->len - u->pos;
    size_t k = left < room ? left : room;
    memcpy(p, u->data + u->pos, k);
    u->pos += k;
    return k;
}

/* Header-safe copy of n bytes: no CR or LF can start a new header (or a
 * body line) from an error or a configured address. */
static void header_text(sp_buf *b, const char *s, size_t n)
{
    for (size_t i = 0; s && i < n && s[i]; i++)
        sp_buf_putc(b, (s[i] == '\r' || s[i] == '\n') ? ' ' : (uint8_t)s[i]);
}

/* Text for the mail body in lines of at most `width` bytes (RFC 5322 caps a
 * line at 998): CR and LF become spaces, lines break at spaces, and a word
 * longer than a line breaks between UTF-8 characters. */
static void body_wrapped(sp_buf *b, const char *s, size_t width)
{
    size_t n = s ? strlen(s) : 0;
    while (n > 0) {
        size_t take = n;
        if (take > width) {
            take = width;
            while (take > 0 && s[take] != ' ')
                take--;
            if (take == 0) /* one long word: cut before a UTF-8 lead byte */
                for (take = width; take > 1 && ((unsigned char)s[take] & 0xC0) == 0x80;)
                    take--;
        }
        sp_buf_puts(b, "  ");
        header_text(b, s, take);
        sp_buf_puts(b, "\r\n");
        s += take;
        n -= take;
        while (n > 0 && *s == ' ')
            s++, n--;
    }
}

/* The envelope sender: ALERT_EMAIL_FROM up to its first blank or bracket
 * (nothing from the setting can add a header), else salespipe@HOST. */
static void mail_sender(const sp_config *cfg, const char *host, char *from, size_t fromsz)
{
    const char *from_cfg = sp_config_get(cfg, "ALERT_EMAIL_FROM");
    from[0] = '\0';
    if (from_cfg && *from_cfg)
        snprintf(from, fromsz, "%.*s", (int)strcspn(from_cfg, " \t\r\n<>"), from_cfg);
    if (!from[0])
        snprintf(from, fromsz, "salespipe@%s", host);
}

/* ALERT_EMAIL's addresses (separated by blanks, commas or semicolons; at
 * most MAX_RECIPIENTS, each cut at 300 bytes) as SMTP recipients and as the
 * To: header's text. Returns how many. */
static int mail_recipients(const char *to, struct curl_slist **rcpt, sp_buf *to_header)
{
    int nrcpt = 0;
    for (const char *p = to; *p && nrcpt < MAX_RECIPIENTS;) {
        p += strspn(p, " ,;\t\r\n");
        size_t n = strcspn(p, " ,;\t\r\n<>");
        if (n == 0)
            break;
        char addr[320];
        snprintf(addr, sizeof addr, "<%.*s>", (int)(n < 300 ? n : 300), p);
        *rcpt = curl_slist_append(*rcpt, addr);
        if (nrcpt++)
            sp_buf_puts(to_header, ", ");
        sp_buf_append(to_header, p, n < 300 ? n : 300);
        p += n;
    }
    sp_buf_putc(to_header, '\0');
    return nrcpt;
}

/* The whole message, headers and a plain-text body with CRLF line ends as
 * SMTP wants them. The subject and the error go through header_text, so no
 * CR or LF in them can start a header of their own. */
static void compose_mail(sp_buf *msg, const orch_alert *a, const char *from,
                         const sp_buf *to_header, const char *host)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
    sp_buf_printf(msg, "Date: %s\r\nFrom: %s\r\nTo: %s\r\n", date, from,
                  to_header->data ? (const char *)to_header->data : "");
    sp_buf_puts(msg, "Subject: ");
    sp_buf subject;
    sp_buf_init(&subject, 1 << 12);
    sp_buf_printf(&subject, "salespipe: run %s (ds %s) failed at %s", a->run_id, a->ds, a->task);
    sp_buf_putc(&subject, '\0');
    header_text(msg, subject.broken ? "salespipe: a run failed" : (const char *)subject.data,
                subject.broken ? sizeof "salespipe: a run failed" : subject.len);
    sp_buf_free(&subject);
    sp_buf_printf(msg, "\r\nMessage-ID: <%s.%ld@%s>\r\n", a->run_id, (long)now, host);
    sp_buf_puts(msg, "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Transfer-Encoding: 8bit\r\n\r\n");
    sp_buf_printf(msg, "The salespipe run %s (ds %s) failed.\r\n\r\n", a->run_id, a->ds);
    sp_buf_printf(msg, "task:      %s\r\nattempts:  %d\r\nerror:\r\n", a->task, a->attempts);
    body_wrapped(msg, a->error ? a->error : "(none recorded)", 76);
    sp_buf_printf(msg, "rejected:  %s\r\nhost:      %s\r\n\r\n",
                  a->rejected ? a->rejected : "(transform did not run)", host);
    sp_buf_printf(msg, "Details: salespipe runs %s\r\nResume:  salespipe run --ds %s --resume\r\n",
                  a->run_id, a->ds);
}

/* One SMTP transaction. Returns 0 delivered, 1 not (logged with the
 * masked SMTP_URL `shown`, never its password). */
static int deliver_mail(const sp_config *cfg, const char *shown, const char *from,
                        struct curl_slist *rcpt, const sp_buf *msg, const char *to_text)
{
    CURL *c = curl_easy_init();
    if (!c) {
        sp_log(SP_LOG_ERROR, "alert: mail via %s not sent: curl_easy_init failed", shown);
        return 1;
    }
    char errbuf[CURL_ERROR_SIZE], mail_from[340];
    snprintf(mail_from, sizeof mail_from, "<%s>", from);
    upload u = {(const char *)msg->data, msg->len, 0};
    common_options(c, errbuf);
    curl_easy_setopt(c, CURLOPT_URL, sp_config_get(cfg, "SMTP_URL"));
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    /* smtp://: STARTTLS when the server offers it; smtps:// is TLS from
     * the first byte. */
    curl_easy_setopt(c, CURLOPT_USE_SSL, (long)CURLUSESSL_TRY);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_message);
    curl_easy_setopt(c, CURLOPT_READDATA, &u);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    CURLcode rc = curl_easy_perform(c);
    int failed = 1;
    if (rc != CURLE_OK) {
        sp_log(SP_LOG_ERROR, "alert: mail to %s via %s not delivered: %s", to_text, shown,
               curl_reason(rc, errbuf));
    } else {
        sp_log(SP_LOG_INFO, "alert: mail to %s via %s: delivered", to_text, shown);
        failed = 0;
    }
    curl_easy_cleanup(c);
    return failed;
}

static int send_mail(const sp_config *cfg, const orch_alert *a)
{
    char shown[512];
    sp_config_display(cfg, "SMTP_URL", shown, sizeof shown);
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = '\0';
    char from[320];
    mail_sender(cfg, host, from, sizeof from);

    struct curl_slist *rcpt = NULL;
    sp_buf to_header;
    sp_buf_init(&to_header, 1 << 14);
    int nrcpt = mail_recipients(sp_config_get(cfg, "ALERT_EMAIL"), &rcpt, &to_header);
    sp_buf msg;
    sp_buf_init(&msg, 1 << 20);
    compose_mail(&msg, a, from, &to_header, host);

    int failed = 1;
    if (nrcpt == 0)
        sp_log(SP_LOG_ERROR, "alert: mail not sent: ALERT_EMAIL names no address");
    else if (msg.broken || to_header.broken)
        sp_log(SP_LOG_ERROR, "alert: mail not sent: out of memory");
    else
        failed = deliver_mail(cfg, shown, from, rcpt, &msg, (const char *)to_header.data);
    curl_slist_free_all(rcpt);
    sp_buf_free(&msg);
    sp_buf_free(&to_header);
    return failed;
}

int orch_alert_send(const sp_config *cfg, const orch_alert *a)
{
    const char *hook = sp_config_get(cfg, "ALERT_WEBHOOK_URL");
    const char *smtp = sp_config_get(cfg, "SMTP_URL");
    const char *to = sp_config_get(cfg, "ALERT_EMAIL");
    bool want_hook = hook && *hook, want_mail = smtp && *smtp && to && *to;
    int failures = 0;
    if (!want_hook && !want_mail) {
        if ((smtp && *smtp) || (to && *to))
            sp_log(SP_LOG_WARN, "alert: no mail sent: both SMTP_URL and ALERT_EMAIL are needed");
        else
            sp_log(SP_LOG_INFO, "alert: none configured (ALERT_WEBHOOK_URL, SMTP_URL + "
                                "ALERT_EMAIL are unset)");
        return 0;
    }
    if (!want_mail && ((smtp && *smtp) || (to && *to))) {
        sp_log(SP_LOG_WARN, "alert: no mail sent: both SMTP_URL and ALERT_EMAIL are needed");
        failures++;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        sp_log(SP_LOG_ERROR, "alert: not sent: libcurl failed to initialise");
        return failures + want_hook + want_mail;
    }
    if (want_hook)
        failures += send_webhook(cfg, a);
    if (want_mail)
        failures += send_mail(cfg, a);
    return failures;
}
