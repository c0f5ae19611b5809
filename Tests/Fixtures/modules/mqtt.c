/*
 * mqtt.c: the part of the test module that publishes and subscribes through the host's uplink
 * with the module ABI's mqtt_* calls (Tests/PluginHostTests/MQTTRightsTests.swift). Compiled
 * into libtestmodule.so with testmodule.c and hardware.c, whose behaviour reader and log line it
 * uses; everything here is static or prefixed `mq_`.
 *
 * start entry point mq_start (stop: mq_stop) does what the words of <module_dir>/behavior say,
 * in this order, then signals ready:
 *   mq-pub TOPIC        mqtt_publish(TOPIC, "hello", qos 1, not retained, expiry 60 s)
 *   mq-pub-big TOPIC N  mqtt_publish(TOPIC, N bytes of 'x', qos 0)
 *   mq-pub-own          mqtt_publish("sensors/<device_id>/<module_id>/own", "hello", qos 1)
 *   mq-pub-bad-utf8     mqtt_publish("sensors/\xff", ...): not UTF-8
 *   mq-sub FILTER       mqtt_subscribe(FILTER)
 *   mq-unsub FILTER     mqtt_unsubscribe(FILTER)
 * Each logs one line through the host:
 *   mq: publish(TOPIC, 5) = -13 (Permission denied): <last_error>
 *   mq: subscribe(FILTER) = 0 (ok):
 * and then `mq: requests done`. A thread then takes messages with mqtt_receive (1 s at a time)
 * and logs each: `mq: received TOPIC retain=R: PAYLOAD`, until the host asks the module to stop,
 * when mqtt_receive returns -ECANCELED and the thread logs `mq: receive ended -125`.
 */
#include "iotsdk_module.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EXPORT __attribute__((visibility("default")))

/* The behaviour file and the log line, as hardware.c reads and writes them. */
extern char hw_behavior[4096];
void hw_load(const iotsdk_host *host);
void hw_log(const iotsdk_host *host, const char *format, ...) __attribute__((format(printf, 2, 3)));

static void mq_result(const iotsdk_host *host, const char *call, const char *subject, long length, int32_t result) {
    if (length >= 0)
        hw_log(host, "mq: %s(%s, %ld) = %d (%s): %s", call, subject, length, result, result == 0 ? "ok" : strerror(-result), host->last_error(host));
    else
        hw_log(host, "mq: %s(%s) = %d (%s): %s", call, subject, result, result == 0 ? "ok" : strerror(-result), host->last_error(host));
}

static void mq_requests(const iotsdk_host *host) {
    if (host->size < offsetof(iotsdk_host, device_id) + sizeof host->device_id) {
        hw_log(host, "mq: the host's table (%u bytes) has no MQTT calls", host->size);
        return;
    }
    char copy[sizeof hw_behavior];
    char *save = NULL;
    strcpy(copy, hw_behavior);
    for (char *token = strtok_r(copy, " \t\r\n", &save); token; token = strtok_r(NULL, " \t\r\n", &save)) {
        if (strcmp(token, "mq-pub-bad-utf8") == 0) {
            int32_t result = host->mqtt_publish(host, "sensors/\xff", "hello", 5, 0, 0, 0);
            mq_result(host, "publish", "sensors/<0xff>", 5, result);
            continue;
        }
        if (strcmp(token, "mq-pub-own") == 0) { /* sensors/<device_id>/<module_id>/own, from the host table */
            char topic[1024];
            snprintf(topic, sizeof topic, "sensors/%s/%s/own", host->device_id, host->module_id);
            mq_result(host, "publish", topic, 5, host->mqtt_publish(host, topic, "hello", 5, 1, 0, 0));
            continue;
        }
        int pub = strcmp(token, "mq-pub") == 0, big = strcmp(token, "mq-pub-big") == 0;
        int sub = strcmp(token, "mq-sub") == 0, unsub = strcmp(token, "mq-unsub") == 0;
        if (!pub && !big && !sub && !unsub) continue;
        char *value = strtok_r(NULL, " \t\r\n", &save);
        if (!value) break;
        if (pub) {
            mq_result(host, "publish", value, 5, host->mqtt_publish(host, value, "hello", 5, 1, 0, 60));
        } else if (big) {
            char *count = strtok_r(NULL, " \t\r\n", &save);
            long length = count ? atol(count) : 0;
            char *payload = malloc(length > 0 ? (size_t)length : 1);
            memset(payload, 'x', length > 0 ? (size_t)length : 1);
            mq_result(host, "publish", value, length, host->mqtt_publish(host, value, payload, (uint32_t)length, 0, 0, 0));
            free(payload);
        } else if (sub) {
            mq_result(host, "subscribe", value, -1, host->mqtt_subscribe(host, value));
        } else {
            mq_result(host, "unsubscribe", value, -1, host->mqtt_unsubscribe(host, value));
        }
    }
    hw_log(host, "mq: requests done");
}

static void *mq_receiver(void *argument) {
    const iotsdk_host *host = argument;
    int beats = 0;
    while (1) {
        iotsdk_mqtt_message *message = NULL;
        int32_t result = host->mqtt_receive(host, 100, &message);
        if (result == 0) {
            hw_log(host, "mq: received %s retain=%d: %.*s", message->topic, message->retain, (int)message->payload_length,
                   (const char *)message->payload);
            host->mqtt_message_free(host, message);
        } else if (result != -ETIMEDOUT) {
            hw_log(host, "mq: receive ended %d", result);
            break;
        }
        if (++beats % 5 == 0) host->heartbeat(host);
    }
    return NULL;
}

EXPORT int32_t mq_start(const iotsdk_host *host) {
    hw_load(host);
    mq_requests(host);
    host->ready(host);
    if (host->size < offsetof(iotsdk_host, device_id) + sizeof host->device_id) return 0;
    pthread_t thread;
    if (pthread_create(&thread, NULL, mq_receiver, (void *)host) != 0) return 1;
    pthread_detach(thread);
    return 0;
}

EXPORT int32_t mq_stop(const iotsdk_host *host) {
    (void)host;
    struct timespec pause = { 0, 200 * 1000000L };
    nanosleep(&pause, NULL); /* lets the receiver log how its wait ended */
    printf("mq_stop called\n");
    return 0;
}

EXPORT int32_t mq_hook(const iotsdk_host *host) {
    hw_load(host);
    mq_requests(host);
    return 0;
}
