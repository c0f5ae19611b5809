/*
 * A wasm module that publishes and subscribes through the host's uplink (the host table's
 * mqtt_* calls), built with clang-14 for wasm32 by WasmModuleTests.
 * uplink_start: publishes to its own topic and to another device's, subscribes to its commands,
 * says ready, then receives until the host asks it to stop; uplink_ping (a command) runs while
 * it waits.
 */
#include <stdint.h>
#include <stdio.h>

#include "iotsdk_module.h"

#define EXPORT __attribute__((visibility("default")))

static void report(const iotsdk_host *host, const char *what, int32_t result) {
    printf("wasm-mq: %s = %d: %s\n", what, result, result < 0 ? host->last_error(host) : "");
    fflush(stdout);
}

EXPORT int32_t uplink_start(const iotsdk_host *host) {
    char topic[256];
    snprintf(topic, sizeof topic, "sensors/%s/%s/temperature", host->device_id, host->module_id);
    report(host, "publish(own)", host->mqtt_publish(host, topic, "21.5", 4, 1, 0, 60));
    report(host, "publish(other)", host->mqtt_publish(host, "sensors/pi-43/x/temperature", "21.5", 4, 1, 0, 0));
    report(host, "publish(outside memory)", host->mqtt_publish(host, topic, (const void *)0xFFFFFF00u, 4096, 1, 0, 0));
    snprintf(topic, sizeof topic, "commands/%s/%s/+", host->device_id, host->module_id);
    report(host, "subscribe(own)", host->mqtt_subscribe(host, topic));
    report(host, "subscribe(commands/#)", host->mqtt_subscribe(host, "commands/#"));
    iotsdk_mqtt_message *message = NULL;
    report(host, "receive(0)", host->mqtt_receive(host, 0, &message));
    host->ready(host);
    while (1) {
        int32_t result = host->mqtt_receive(host, -1, &message);
        if (result < 0) {
            printf("wasm-mq: receive ended %d\n", result);
            break;
        }
        printf("wasm-mq: received %s retain=%d: %.*s\n", message->topic, message->retain, (int)message->payload_length, (const char *)message->payload);
        fflush(stdout);
        host->mqtt_message_free(host, message);
    }
    return 0;
}

EXPORT int32_t uplink_stop(const iotsdk_host *host) {
    (void)host;
    return 0;
}

EXPORT int32_t uplink_ping(int32_t value) {
    return value + 1;
}
