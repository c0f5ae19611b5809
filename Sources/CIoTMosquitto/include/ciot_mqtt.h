// ciot_mqtt.h: libmosquitto (the MQTT client of the Eclipse Mosquitto project), loaded when a
// process first connects to a broker, not linked.
//
// An app that links IoTSDK but never uses the uplink, and every module runner (the host's
// executable too), should not map libmosquitto and the TLS libraries it needs: only the process
// that connects loads it (dlopen of libmosquitto.so.1, Debian's libmosquitto1); calls go through
// the function pointers `ciot_mqtt_load` resolved. Nothing here needs <mosquitto.h>, so that the
// SDK builds without libmosquitto-dev (`swift run sdk-demo` on a fresh machine): the few values
// of libmosquitto's ABI it uses are declared below, and ciot_mqtt.c checks each against the real
// header whenever that is installed (Scripts/ensure-build-deps.sh installs it for the tests). The
// MQTT 5 properties the client sends (message expiry, session expiry) are built in C, so that
// Swift never holds a property list.
#ifndef CIOT_MQTT_H
#define CIOT_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/// libmosquitto's client (`struct mosquitto`), opaque.
struct mosquitto;

/// The results of libmosquitto's calls that the client tells apart (enum mosq_err_t).
enum {
    CIOT_MQTT_ERR_SUCCESS = 0,
    CIOT_MQTT_ERR_INVAL = 3,
    CIOT_MQTT_ERR_NO_CONN = 4,
    CIOT_MQTT_ERR_CONN_REFUSED = 5,
    CIOT_MQTT_ERR_CONN_LOST = 7,
    CIOT_MQTT_ERR_PAYLOAD_SIZE = 9,
    CIOT_MQTT_ERR_AUTH = 11,
    CIOT_MQTT_ERR_ACL_DENIED = 12,
    CIOT_MQTT_ERR_ERRNO = 14,
    CIOT_MQTT_ERR_MALFORMED_UTF8 = 18,
    CIOT_MQTT_ERR_QOS_NOT_SUPPORTED = 24,
    CIOT_MQTT_ERR_OVERSIZE_PACKET = 25,
};

/// Loads libmosquitto and initializes it once (thread-safe). Returns 0, or -1 with a reason in
/// `error` (NUL-terminated, at most `error_size` bytes with the NUL).
int ciot_mqtt_load(char *error, size_t error_size);

/// The loaded library's version as major*1000000 + minor*1000 + revision, or 0 before
/// `ciot_mqtt_load` succeeded.
int ciot_mqtt_version(void);

/// The callbacks of one client; `context` is passed back to each. They run on the thread that
/// calls `ciot_mqtt_loop`.
typedef struct {
    void *context;
    /// CONNACK: `reason` 0 when accepted (an MQTT 5 reason code, or a 3.1.1 return code), and
    /// whether the broker kept a session.
    void (*connected)(void *context, int reason, bool session_present);
    /// The connection ended; `reason` 0 after `ciot_mqtt_disconnect`.
    void (*disconnected)(void *context, int reason);
    /// A QoS 1 PUBACK (or a QoS 0 message written): `reason` 0 or an MQTT 5 reason code ≥ 0x80
    /// when the broker refused the message.
    void (*published)(void *context, int mid, int reason);
    /// A message for one of the subscriptions.
    void (*message)(void *context, const char *topic, const void *payload, int length, int qos, bool retain);
    /// SUBACK: the granted QoS (or a reason code ≥ 0x80) of the one filter `mid` subscribed.
    void (*subscribed)(void *context, int mid, int granted);
} ciot_mqtt_callbacks;

/// A new client (not connected) for MQTT `protocol_version` (4 for 3.1.1, 5), threaded (publish
/// and subscribe may be called from other threads while one thread loops). NULL with errno set
/// (ENOMEM, EINVAL).
struct mosquitto *ciot_mqtt_new(const char *client_id, bool clean_start, int protocol_version, const ciot_mqtt_callbacks *callbacks);
void ciot_mqtt_destroy(struct mosquitto *client);

int ciot_mqtt_credentials(struct mosquitto *client, const char *username, const char *password);
/// TLS: the CA file that verifies the broker, and for mutual TLS a certificate and its key (NULL
/// for none); the broker's name is checked against its certificate.
int ciot_mqtt_tls(struct mosquitto *client, const char *ca_file, const char *certificate_file, const char *key_file);
/// The last will, published by the broker when the connection ends without a DISCONNECT.
int ciot_mqtt_will(struct mosquitto *client, const char *topic, const void *payload, int length, int qos, bool retain);
/// The in-flight window: how many QoS 1 messages may await their PUBACK at once.
int ciot_mqtt_inflight(struct mosquitto *client, int maximum);

/// Connects (blocking: TCP, TLS, the CONNECT packet; the CONNACK arrives in the loop). With MQTT 5
/// and `session_expiry_seconds` > 0, the session outlives the connection that long.
int ciot_mqtt_connect(struct mosquitto *client, const char *host, int port, int keepalive_seconds, uint32_t session_expiry_seconds);
int ciot_mqtt_disconnect(struct mosquitto *client);

/// Queues a PUBLISH; `*mid` is its message id for the `published` callback. With MQTT 5 and
/// `expiry_seconds` > 0, the message carries that message expiry interval.
int ciot_mqtt_publish(struct mosquitto *client, int *mid, const char *topic, const void *payload, int length, int qos, bool retain, uint32_t expiry_seconds);
int ciot_mqtt_subscribe(struct mosquitto *client, int *mid, const char *filter, int qos);
int ciot_mqtt_unsubscribe(struct mosquitto *client, int *mid, const char *filter);

/// Waits up to `timeout_ms` for the network (or a packet queued by another thread), then reads,
/// writes and keeps the connection alive. MOSQ_ERR_SUCCESS, or the error that ended the
/// connection (MOSQ_ERR_NO_CONN, MOSQ_ERR_CONN_LOST, MOSQ_ERR_ERRNO with errno…).
int ciot_mqtt_loop(struct mosquitto *client, int timeout_ms);

const char *ciot_mqtt_strerror(int code);
const char *ciot_mqtt_reason_string(int reason);
const char *ciot_mqtt_connack_string(int code);

#endif
