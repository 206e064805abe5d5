/*
 * sl_proxy_protocol.h: the PROXY protocol header a load balancer sends before the client's
 * bytes (haproxy's proxy-protocol.txt): version 1 in text ("PROXY TCP4 a b p q\r\n") and
 * version 2 in binary (a 12-byte signature, then version/command, family/transport, length,
 * addresses and TLVs).  Parsing only: the caller reads the bytes through the connection's
 * I/O table and gives them here, so nothing in this file touches a socket.
 */
#ifndef SL_PROXY_PROTOCOL_H
#define SL_PROXY_PROTOCOL_H

#include "sl_core.h"
#include "sl_log.h"
#include "sl_pool.h"
#include "sl_str.h"

/* The longest version 1 header ("PROXY UNKNOWN" with two IPv6 addresses and ports, CRLF). */
#define SL_PROXY_PROTOCOL_V1_MAX_HEADER 107
/* The longest version 2 header read (nginx's bound: 16 bytes of header, then addresses
 * and TLVs). */
#define SL_PROXY_PROTOCOL_MAX_HEADER 4096

typedef struct sl_proxy_protocol_s sl_proxy_protocol_t;

/* What a header says about the connection behind the proxy.  The addresses are text as
 * the variables give them; ports are 0..65535. */
struct sl_proxy_protocol_s {
    sl_str_t src_addr;
    sl_str_t dst_addr;
    unsigned src_port;
    unsigned dst_port;
    /** version 2: the TLVs after the addresses, as received (empty otherwise) */
    sl_str_t tlvs;
};

/*
 * Reads a header at the start of [buf, buf + len).  eof says no more bytes will come (the
 * peer closed), so a header cut short is broken rather than awaited.
 *
 * Returns the header's length (> 0): the bytes after it are the client's.  *pp is then the
 * addresses (in pool), or NULL when the header names none (v1 "UNKNOWN", v2 "LOCAL", a
 * transport other than a stream, a family other than IPv4/IPv6): the connection is then
 * taken as it is, as nginx does.
 * SL_AGAIN: what is there may still become a header; read more.
 * SL_ERROR: not a header, logged at error with nginx's wording ("broken header: \"...\"",
 * "unknown PROXY protocol version: N", "header is too large"), or no memory.
 */
ssize_t sl_proxy_protocol_read(sl_pool_t *pool, sl_log_t *log, const u_char *buf, size_t len,
                               int eof, sl_proxy_protocol_t **pp);

/*
 * The value of a version 2 TLV by its variable name (what follows "$proxy_protocol_tlv_"):
 * "alpn", "authority", "unique_id", "netns", "ssl", "0xNN" (any type, in hex), and inside the
 * SSL TLV "ssl_version", "ssl_cn", "ssl_cipher", "ssl_sig_alg", "ssl_key_alg", "ssl_0xNN"
 * and "ssl_verify" (its verify field in decimal, in pool).  The names are nginx 1.23's.
 * SL_OK with *value pointing into pp->tlvs (or pool); SL_DECLINED when there is no such TLV;
 * SL_ERROR after logging an unknown name ("unknown PROXY protocol TLV \"x\"") or a TLV list
 * that runs past its end ("broken PROXY protocol TLV").
 */
sl_int_t sl_proxy_protocol_tlv(sl_pool_t *pool, sl_log_t *log, const sl_proxy_protocol_t *pp,
                               const sl_str_t *name, sl_str_t *value);

#endif /* SL_PROXY_PROTOCOL_H */
