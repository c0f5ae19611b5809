#define _GNU_SOURCE
#include "ciot_mqtt.h"

#include <dlfcn.h>
#include <stddef.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// libmosquitto's ABI as far as this file uses it (mosquitto.h and mqtt_protocol.h of 2.0, the
// soname libmosquitto.so.1): options, protocol versions, property identifiers, and the message
// a callback receives.
enum {
    CIOT_OPT_PROTOCOL_VERSION = 1,
    CIOT_OPT_SEND_MAXIMUM = 5,
    CIOT_OPT_TCP_NODELAY = 11,
    CIOT_PROTOCOL_V311 = 4,
    CIOT_PROTOCOL_V5 = 5,
    CIOT_PROP_MESSAGE_EXPIRY_INTERVAL = 2,
    CIOT_PROP_SESSION_EXPIRY_INTERVAL = 17,
};
typedef struct mqtt5__property mosquitto_property;
struct ciot_mosquitto_message {
    int mid;
    char *topic;
    void *payload;
    int payloadlen;
    int qos;
    bool retain;
};

// Where the real headers are installed, every value above must be theirs.
#if __has_include(<mosquitto.h>) && __has_include(<mqtt_protocol.h>)
#include <mosquitto.h>
#include <mqtt_protocol.h>
#define SAME(ours, theirs) _Static_assert((int)(ours) == (int)(theirs), #ours " differs from " #theirs " of <mosquitto.h>")
SAME(CIOT_OPT_PROTOCOL_VERSION, MOSQ_OPT_PROTOCOL_VERSION);
SAME(CIOT_OPT_SEND_MAXIMUM, MOSQ_OPT_SEND_MAXIMUM);
SAME(CIOT_OPT_TCP_NODELAY, MOSQ_OPT_TCP_NODELAY);
SAME(CIOT_PROTOCOL_V311, MQTT_PROTOCOL_V311);
SAME(CIOT_PROTOCOL_V5, MQTT_PROTOCOL_V5);
SAME(CIOT_PROP_MESSAGE_EXPIRY_INTERVAL, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL);
SAME(CIOT_PROP_SESSION_EXPIRY_INTERVAL, MQTT_PROP_SESSION_EXPIRY_INTERVAL);
SAME(CIOT_MQTT_ERR_SUCCESS, MOSQ_ERR_SUCCESS);
SAME(CIOT_MQTT_ERR_INVAL, MOSQ_ERR_INVAL);
SAME(CIOT_MQTT_ERR_NO_CONN, MOSQ_ERR_NO_CONN);
SAME(CIOT_MQTT_ERR_CONN_REFUSED, MOSQ_ERR_CONN_REFUSED);
SAME(CIOT_MQTT_ERR_CONN_LOST, MOSQ_ERR_CONN_LOST);
SAME(CIOT_MQTT_ERR_PAYLOAD_SIZE, MOSQ_ERR_PAYLOAD_SIZE);
SAME(CIOT_MQTT_ERR_AUTH, MOSQ_ERR_AUTH);
SAME(CIOT_MQTT_ERR_ACL_DENIED, MOSQ_ERR_ACL_DENIED);
SAME(CIOT_MQTT_ERR_ERRNO, MOSQ_ERR_ERRNO);
SAME(CIOT_MQTT_ERR_MALFORMED_UTF8, MOSQ_ERR_MALFORMED_UTF8);
SAME(CIOT_MQTT_ERR_QOS_NOT_SUPPORTED, MOSQ_ERR_QOS_NOT_SUPPORTED);
SAME(CIOT_MQTT_ERR_OVERSIZE_PACKET, MOSQ_ERR_OVERSIZE_PACKET);
SAME(sizeof(struct ciot_mosquitto_message), sizeof(struct mosquitto_message));
SAME(offsetof(struct ciot_mosquitto_message, topic), offsetof(struct mosquitto_message, topic));
SAME(offsetof(struct ciot_mosquitto_message, payload), offsetof(struct mosquitto_message, payload));
SAME(offsetof(struct ciot_mosquitto_message, payloadlen), offsetof(struct mosquitto_message, payloadlen));
SAME(offsetof(struct ciot_mosquitto_message, qos), offsetof(struct mosquitto_message, qos));
SAME(offsetof(struct ciot_mosquitto_message, retain), offsetof(struct mosquitto_message, retain));
#undef SAME
#endif

static struct {
    int (*lib_init)(void);
    int (*lib_version)(int *, int *, int *);
    struct mosquitto *(*new_client)(const char *, bool, void *);
    void (*destroy)(struct mosquitto *);
    void *(*userdata)(struct mosquitto *);
    int (*int_option)(struct mosquitto *, int, int);
    int (*threaded_set)(struct mosquitto *, bool);
    int (*username_pw_set)(struct mosquitto *, const char *, const char *);
    int (*tls_set)(struct mosquitto *, const char *, const char *, const char *, const char *, int (*)(char *, int, int, void *));
    int (*will_set_v5)(struct mosquitto *, const char *, int, const void *, int, bool, mosquitto_property *);
    int (*connect_bind_v5)(struct mosquitto *, const char *, int, int, const char *, const mosquitto_property *);
    int (*disconnect_v5)(struct mosquitto *, int, const mosquitto_property *);
    int (*publish_v5)(struct mosquitto *, int *, const char *, int, const void *, int, bool, const mosquitto_property *);
    int (*subscribe_v5)(struct mosquitto *, int *, const char *, int, int, const mosquitto_property *);
    int (*unsubscribe_v5)(struct mosquitto *, int *, const char *, const mosquitto_property *);
    int (*loop)(struct mosquitto *, int, int);
    void (*connect_v5_callback_set)(struct mosquitto *, void (*)(struct mosquitto *, void *, int, int, const mosquitto_property *));
    void (*disconnect_v5_callback_set)(struct mosquitto *, void (*)(struct mosquitto *, void *, int, const mosquitto_property *));
    void (*publish_v5_callback_set)(struct mosquitto *, void (*)(struct mosquitto *, void *, int, int, const mosquitto_property *));
    void (*message_v5_callback_set)(struct mosquitto *, void (*)(struct mosquitto *, void *, const struct ciot_mosquitto_message *, const mosquitto_property *));
    void (*subscribe_v5_callback_set)(struct mosquitto *, void (*)(struct mosquitto *, void *, int, int, const int *, const mosquitto_property *));
    int (*property_add_int32)(mosquitto_property **, int, uint32_t);
    void (*property_free_all)(mosquitto_property **);
    const char *(*strerror)(int);
    const char *(*reason_string)(int);
    const char *(*connack_string)(int);
} api;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];
static int loaded = 0;
static int version = 0;

static void load(void) {
    void *library = dlopen("libmosquitto.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf(load_error, sizeof load_error, "cannot load libmosquitto.so.1 (%s): install libmosquitto1", dlerror());
        return;
    }
#define RESOLVE(field, name)                                                                    \
    *(void **)(&api.field) = dlsym(library, name);                                              \
    if (!api.field) {                                                                           \
        snprintf(load_error, sizeof load_error, "libmosquitto.so.1 has no %s: install libmosquitto1 2.0 or later", name); \
        return;                                                                                 \
    }
    RESOLVE(lib_init, "mosquitto_lib_init")
    RESOLVE(lib_version, "mosquitto_lib_version")
    RESOLVE(new_client, "mosquitto_new")
    RESOLVE(destroy, "mosquitto_destroy")
    RESOLVE(userdata, "mosquitto_userdata")
    RESOLVE(int_option, "mosquitto_int_option")
    RESOLVE(threaded_set, "mosquitto_threaded_set")
    RESOLVE(username_pw_set, "mosquitto_username_pw_set")
    RESOLVE(tls_set, "mosquitto_tls_set")
    RESOLVE(will_set_v5, "mosquitto_will_set_v5")
    RESOLVE(connect_bind_v5, "mosquitto_connect_bind_v5")
    RESOLVE(disconnect_v5, "mosquitto_disconnect_v5")
    RESOLVE(publish_v5, "mosquitto_publish_v5")
    RESOLVE(subscribe_v5, "mosquitto_subscribe_v5")
    RESOLVE(unsubscribe_v5, "mosquitto_unsubscribe_v5")
    RESOLVE(loop, "mosquitto_loop")
    RESOLVE(connect_v5_callback_set, "mosquitto_connect_v5_callback_set")
    RESOLVE(disconnect_v5_callback_set, "mosquitto_disconnect_v5_callback_set")
    RESOLVE(publish_v5_callback_set, "mosquitto_publish_v5_callback_set")
    RESOLVE(message_v5_callback_set, "mosquitto_message_v5_callback_set")
    RESOLVE(subscribe_v5_callback_set, "mosquitto_subscribe_v5_callback_set")
    RESOLVE(property_add_int32, "mosquitto_property_add_int32")
    RESOLVE(property_free_all, "mosquitto_property_free_all")
    RESOLVE(strerror, "mosquitto_strerror")
    RESOLVE(reason_string, "mosquitto_reason_string")
    RESOLVE(connack_string, "mosquitto_connack_string")
#undef RESOLVE
    int major = 0, minor = 0, revision = 0;
    api.lib_version(&major, &minor, &revision);
    if (major < 2) {
        snprintf(load_error, sizeof load_error, "libmosquitto.so.1 is version %d.%d.%d: install libmosquitto1 2.0 or later", major, minor, revision);
        return;
    }
    int code = api.lib_init();
    if (code != CIOT_MQTT_ERR_SUCCESS) {
        snprintf(load_error, sizeof load_error, "mosquitto_lib_init failed: %s", api.strerror(code));
        return;
    }
    version = major * 1000000 + minor * 1000 + revision;
    loaded = 1;
}

int ciot_mqtt_load(char *error, size_t error_size) {
    pthread_once(&once, load);
    if (loaded) return 0;
    if (error && error_size > 0) snprintf(error, error_size, "%s", load_error);
    return -1;
}

int ciot_mqtt_version(void) { return loaded ? version : 0; }

// MARK: - Callbacks: the client's `obj` is its ciot_mqtt_callbacks (copied into the client).

static void on_connect(struct mosquitto *client, void *obj, int reason, int flags, const mosquitto_property *properties) {
    (void)client; (void)properties;
    const ciot_mqtt_callbacks *callbacks = obj;
    if (callbacks->connected) callbacks->connected(callbacks->context, reason, (flags & 1) != 0);
}

static void on_disconnect(struct mosquitto *client, void *obj, int reason, const mosquitto_property *properties) {
    (void)client; (void)properties;
    const ciot_mqtt_callbacks *callbacks = obj;
    if (callbacks->disconnected) callbacks->disconnected(callbacks->context, reason);
}

static void on_publish(struct mosquitto *client, void *obj, int mid, int reason, const mosquitto_property *properties) {
    (void)client; (void)properties;
    const ciot_mqtt_callbacks *callbacks = obj;
    if (callbacks->published) callbacks->published(callbacks->context, mid, reason);
}

static void on_message(struct mosquitto *client, void *obj, const struct ciot_mosquitto_message *message, const mosquitto_property *properties) {
    (void)client; (void)properties;
    const ciot_mqtt_callbacks *callbacks = obj;
    if (callbacks->message) callbacks->message(callbacks->context, message->topic, message->payload, message->payloadlen, message->qos, message->retain);
}

static void on_subscribe(struct mosquitto *client, void *obj, int mid, int count, const int *granted, const mosquitto_property *properties) {
    (void)client; (void)properties;
    const ciot_mqtt_callbacks *callbacks = obj;
    if (callbacks->subscribed) callbacks->subscribed(callbacks->context, mid, count > 0 ? granted[0] : 0x80);
}

// MARK: - Clients

struct mosquitto *ciot_mqtt_new(const char *client_id, bool clean_start, int protocol_version, const ciot_mqtt_callbacks *callbacks) {
    if (!loaded) { errno = ENOSYS; return NULL; }
    ciot_mqtt_callbacks *copy = malloc(sizeof *copy);
    if (!copy) { errno = ENOMEM; return NULL; }
    *copy = *callbacks;
    struct mosquitto *client = api.new_client(client_id, clean_start, copy);
    if (!client) { free(copy); return NULL; }
    int version = protocol_version == 5 ? CIOT_PROTOCOL_V5 : CIOT_PROTOCOL_V311;
    if (api.int_option(client, CIOT_OPT_PROTOCOL_VERSION, version) != CIOT_MQTT_ERR_SUCCESS
        || api.threaded_set(client, true) != CIOT_MQTT_ERR_SUCCESS) {
        api.destroy(client);
        free(copy);
        errno = EINVAL;
        return NULL;
    }
    api.int_option(client, CIOT_OPT_TCP_NODELAY, 1);
    api.connect_v5_callback_set(client, on_connect);
    api.disconnect_v5_callback_set(client, on_disconnect);
    api.publish_v5_callback_set(client, on_publish);
    api.message_v5_callback_set(client, on_message);
    api.subscribe_v5_callback_set(client, on_subscribe);
    return client;
}

void ciot_mqtt_destroy(struct mosquitto *client) {
    if (!client) return;
    void *callbacks = api.userdata(client);
    api.destroy(client);
    free(callbacks);
}

int ciot_mqtt_credentials(struct mosquitto *client, const char *username, const char *password) {
    return api.username_pw_set(client, username, password);
}

int ciot_mqtt_tls(struct mosquitto *client, const char *ca_file, const char *certificate_file, const char *key_file) {
    return api.tls_set(client, ca_file, NULL, certificate_file, key_file, NULL);
}

int ciot_mqtt_will(struct mosquitto *client, const char *topic, const void *payload, int length, int qos, bool retain) {
    return api.will_set_v5(client, topic, length, payload, qos, retain, NULL);
}

int ciot_mqtt_inflight(struct mosquitto *client, int maximum) {
    // MQTT 5 calls it the receive maximum the broker announces; for 3.1.1 libmosquitto uses the
    // same option as its own limit of messages in flight.
    return api.int_option(client, CIOT_OPT_SEND_MAXIMUM, maximum);
}

int ciot_mqtt_connect(struct mosquitto *client, const char *host, int port, int keepalive_seconds, uint32_t session_expiry_seconds) {
    mosquitto_property *properties = NULL;
    if (session_expiry_seconds > 0) {
        int code = api.property_add_int32(&properties, CIOT_PROP_SESSION_EXPIRY_INTERVAL, session_expiry_seconds);
        if (code != CIOT_MQTT_ERR_SUCCESS) return code;
    }
    int code = api.connect_bind_v5(client, host, port, keepalive_seconds, NULL, properties);
    api.property_free_all(&properties);
    return code;
}

int ciot_mqtt_disconnect(struct mosquitto *client) {
    return api.disconnect_v5(client, 0, NULL);
}

int ciot_mqtt_publish(struct mosquitto *client, int *mid, const char *topic, const void *payload, int length, int qos, bool retain, uint32_t expiry_seconds) {
    mosquitto_property *properties = NULL;
    if (expiry_seconds > 0) {
        int code = api.property_add_int32(&properties, CIOT_PROP_MESSAGE_EXPIRY_INTERVAL, expiry_seconds);
        if (code != CIOT_MQTT_ERR_SUCCESS) return code;
    }
    int code = api.publish_v5(client, mid, topic, length, payload, qos, retain, properties);
    api.property_free_all(&properties);
    return code;
}

int ciot_mqtt_subscribe(struct mosquitto *client, int *mid, const char *filter, int qos) {
    return api.subscribe_v5(client, mid, filter, qos, 0, NULL);
}

int ciot_mqtt_unsubscribe(struct mosquitto *client, int *mid, const char *filter) {
    return api.unsubscribe_v5(client, mid, filter, NULL);
}

int ciot_mqtt_loop(struct mosquitto *client, int timeout_ms) {
    return api.loop(client, timeout_ms, 1);
}

const char *ciot_mqtt_strerror(int code) { return loaded ? api.strerror(code) : "libmosquitto is not loaded"; }
const char *ciot_mqtt_reason_string(int reason) { return loaded ? api.reason_string(reason) : "libmosquitto is not loaded"; }
const char *ciot_mqtt_connack_string(int code) { return loaded ? api.connack_string(code) : "libmosquitto is not loaded"; }
