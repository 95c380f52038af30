/*  reporting_http — the HTTP face of reporting (libmicrohttpd). A thin
    gateway: each request becomes the same `report.summary` request a
    ZeroMQ client sends, to the reporting actor's inproc endpoint, so both
    paths return the same document.

    GET /v1/report/summary   → 200 application/json: the summary map
                               (see reporting.h); 503 when the database is down
    any other path           → 404 {"error": {code, message}}
    any method but GET/HEAD  → 405 {"error": ...} with Allow: GET, HEAD
*/
#ifndef REPORTING_HTTP_H
#define REPORTING_HTTP_H

typedef struct reporting_http_t reporting_http_t;

//  Listens on address:port (port 0: any free port); HTTPS with a PEM
//  certificate and key file (else NULL or ""). NULL on failure (logged).
reporting_http_t *reporting_http_new (const char *address, int port, const char *request_endpoint,
                                      int timeout_ms, const char *tls_cert, const char *tls_key);
void reporting_http_destroy (reporting_http_t **self_p);
int reporting_http_port (reporting_http_t *self);



#endif
