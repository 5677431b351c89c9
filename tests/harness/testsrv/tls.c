/* tls — the certificates of the TLS listeners, made at start-up (EC P-256, OpenSSL 3 API): a
 * throw-away CA, whose certificate the tests trust (DIR/ca.pem), and leaf certificates signed by
 * it (or self-signed) with the names and dates each listener asks for: valid, expired, for a
 * wrong host, expiring soon. Their server contexts do TLS 1.2 and up, without resumption. Any
 * failure is fatal (die). */
#include "testsrv_int.h"

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <stdio.h>
#include <stdlib.h>

static void cert_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);

    if (!ext || !X509_add_ext(x, ext, -1))
        die("cannot add a certificate extension");
    X509_EXTENSION_free(ext);
}

X509 *tls_cert_new(const char *cn, const char *san, long nb_days, long na_days, EVP_PKEY *key,
                   X509 *issuer, EVP_PKEY *issuer_key)
{
    X509 *x = X509_new();
    BIGNUM *bn = BN_new();
    X509_NAME *name;
    X509V3_CTX ctx;

    if (!x || !bn || !X509_set_version(x, X509_VERSION_3) ||
        !BN_rand(bn, 63, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
        !X509_time_adj_ex(X509_getm_notBefore(x), (int)nb_days, 0, NULL) ||
        !X509_time_adj_ex(X509_getm_notAfter(x), (int)na_days, 0, NULL) || !X509_set_pubkey(x, key))
        die("cannot build a certificate");
    BN_free(bn);
    name = X509_get_subject_name(x);
    if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"vigie tests",
                                    -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1,
                                    0) ||
        !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name))
        die("cannot name a certificate");

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    cert_ext(x, &ctx, NID_subject_key_identifier, "hash");
    if (!san) {
        cert_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        cert_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        cert_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        cert_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
        cert_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
        cert_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
        cert_ext(x, &ctx, NID_subject_alt_name, san);
    }
    if (!X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()))
        die("cannot sign a certificate");
    return x;
}

EVP_PKEY *tls_key_new(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");

    if (!k)
        die("cannot generate an EC key");
    return k;
}

SSL_CTX *tls_ctx_new(X509 *ca, EVP_PKEY *ca_key, const char *cn, const char *san, long nb_days,
                     long na_days)
{
    EVP_PKEY *key = tls_key_new();
    X509 *cert = tls_cert_new(cn, san, nb_days, na_days, key, ca, ca_key);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        SSL_CTX_use_certificate(ctx, cert) != 1 || SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1)
        die("cannot set up a TLS context");
    /* No resumption: every handshake is a full one, so clients always see the certificate. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_num_tickets(ctx, 0);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ctx;
}

void tls_write_ca(const char *dir, X509 *ca)
{
    char path[4096];
    FILE *f;

    if (snprintf(path, sizeof(path), "%s/ca.pem", dir) >= (int)sizeof(path))
        die("--dir is too long");
    f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    if (!PEM_write_X509(f, ca) || fclose(f) != 0)
        die("cannot write ca.pem");
}
