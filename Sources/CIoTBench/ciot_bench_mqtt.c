// The C loop `sdk-bench uplink` measures the SDK's uplink against: one libmosquitto client on one
// thread publishing the same payloads at QoS 1 with the same in-flight window, waiting in
// mosquitto_loop for the PUBACKs, as a C device program would.
#include "ciot_bench.h"
#include "ciot_mqtt.h"

#include <errno.h>
#include <stdbool.h>
#include <time.h>

typedef struct {
    int connected;
    int refused;
    int acknowledged;
} bench_state;

static void on_connected(void *context, int reason, bool session_present) {
    (void)session_present;
    bench_state *state = context;
    if (reason == 0) state->connected = 1; else state->refused = 1;
}

static void on_published(void *context, int mid, int reason) {
    (void)mid;
    bench_state *state = context;
    if (reason < 0x80) state->acknowledged += 1;
}

static uint64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

int ciot_bench_mqtt_publish(const char *host, int port, const char *client_id, const char *topic,
                            const void *payload, int payload_length, int count, int window, uint64_t *nanoseconds) {
    char reason[256];
    if (ciot_mqtt_load(reason, sizeof reason) != 0) { errno = ENOSYS; return -1; }
    bench_state state = {0, 0, 0};
    ciot_mqtt_callbacks callbacks = {0};
    callbacks.context = &state;
    callbacks.connected = on_connected;
    callbacks.published = on_published;
    struct mosquitto *client = ciot_mqtt_new(client_id, true, 5, &callbacks);
    if (!client) return -1;
    int result = -1;
    if (ciot_mqtt_inflight(client, window) != CIOT_MQTT_ERR_SUCCESS) goto done;
    if (ciot_mqtt_connect(client, host, port, 60, 0) != CIOT_MQTT_ERR_SUCCESS) goto done;
    while (!state.connected && !state.refused) {
        if (ciot_mqtt_loop(client, 1000) != CIOT_MQTT_ERR_SUCCESS) goto done;
    }
    if (state.refused) goto done;
    uint64_t start = monotonic_ns();
    int sent = 0;
    while (state.acknowledged < count) {
        while (sent < count && sent - state.acknowledged < window) {
            int mid = 0;
            if (ciot_mqtt_publish(client, &mid, topic, payload, payload_length, 1, false, 0) != CIOT_MQTT_ERR_SUCCESS) goto done;
            sent += 1;
        }
        if (ciot_mqtt_loop(client, 1000) != CIOT_MQTT_ERR_SUCCESS) goto done;
    }
    *nanoseconds = monotonic_ns() - start;
    ciot_mqtt_disconnect(client);
    result = 0;
done:
    ciot_mqtt_destroy(client);
    return result;
}
