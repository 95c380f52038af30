/*  intake_http — the HTTP face of intake (libmicrohttpd). A thin gateway:
    each request becomes the same ZeroMQ request a native client sends, to
    the intake actor's inproc endpoint, so both paths share one code path,
    one batch and one set of checks.

    POST /v1/tickets            JSON body of ticket.submit → 201 / 200 (repeat) / 400
    GET  /v1/tickets/{ticket_no}                           → 200 / 404
*/
#ifndef INTAKE_HTTP_H
#define INTAKE_HTTP_H

typedef struct intake_http_t intake_http_t;

//  Listens on address:port (port 0: any free port); HTTPS with a PEM
//  certificate and key file (else NULL or ""). NULL on failure (logged).
intake_http_t *intake_http_new (const char *address, int port, const char *request_endpoint,
                                int timeout_ms, const char *tls_cert, const char *tls_key);
void intake_http_destroy (intake_http_t **self_p);
int intake_http_port (intake_http_t *self);

#define INTAKE_HTTP_MAX_BODY 65536

#endif
