/* Forwards the rabbitmq-c functions the project calls to librabbitmq.so.4, loaded with dlopen
   on first use (see CRabbitMQ.h for why). */
#include "CRabbitMQ.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* Every forwarded function: F(return type, name, parameters, arguments), or V(name,
   parameters, arguments) for one that returns nothing. The signatures are rabbitmq-c
   0.11's; a mismatch with amqp.h is a compile error. */
#define RABBITCHAT_LIBRABBITMQ_FUNCTIONS(F, V) \
    F(amqp_rpc_reply_t, amqp_get_rpc_reply, (amqp_connection_state_t state), (state)) \
    V(amqp_maybe_release_buffers, (amqp_connection_state_t state), (state)) \
    F(int, amqp_destroy_connection, (amqp_connection_state_t state), (state)) \
    F(amqp_bytes_t, amqp_cstring_bytes, (char const *cstr), (cstr)) \
    F(int, amqp_basic_ack, (amqp_connection_state_t state, amqp_channel_t channel, uint64_t delivery_tag, amqp_boolean_t multiple), (state, channel, delivery_tag, multiple)) \
    F(int, amqp_send_method, (amqp_connection_state_t state, amqp_channel_t channel, amqp_method_number_t id, void *decoded), (state, channel, id, decoded)) \
    F(amqp_boolean_t, amqp_frames_enqueued, (amqp_connection_state_t state), (state)) \
    F(int, amqp_simple_wait_frame, (amqp_connection_state_t state, amqp_frame_t *decoded_frame), (state, decoded_frame)) \
    F(const char *, amqp_error_string2, (int err), (err)) \
    F(amqp_boolean_t, amqp_data_in_buffer, (amqp_connection_state_t state), (state)) \
    F(amqp_channel_open_ok_t *, amqp_channel_open, (amqp_connection_state_t state, amqp_channel_t channel), (state, channel)) \
    F(amqp_basic_qos_ok_t *, amqp_basic_qos, (amqp_connection_state_t state, amqp_channel_t channel, uint32_t prefetch_size, uint16_t prefetch_count, amqp_boolean_t global), (state, channel, prefetch_size, prefetch_count, global)) \
    F(amqp_basic_consume_ok_t *, amqp_basic_consume, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t queue, amqp_bytes_t consumer_tag, amqp_boolean_t no_local, amqp_boolean_t no_ack, amqp_boolean_t exclusive, amqp_table_t arguments), (state, channel, queue, consumer_tag, no_local, no_ack, exclusive, arguments)) \
    F(amqp_socket_t *, amqp_tcp_socket_new, (amqp_connection_state_t state), (state)) \
    F(amqp_socket_t *, amqp_ssl_socket_new, (amqp_connection_state_t state), (state)) \
    F(int, amqp_ssl_socket_set_cacert, (amqp_socket_t *self, const char *cacert), (self, cacert)) \
    F(int, amqp_ssl_socket_set_key, (amqp_socket_t *self, const char *cert, const char *key), (self, cert, key)) \
    V(amqp_ssl_socket_set_verify_peer, (amqp_socket_t *self, amqp_boolean_t verify), (self, verify)) \
    V(amqp_ssl_socket_set_verify_hostname, (amqp_socket_t *self, amqp_boolean_t verify), (self, verify)) \
    F(amqp_rpc_reply_t, amqp_read_message, (amqp_connection_state_t state, amqp_channel_t channel, amqp_message_t *message, int flags), (state, channel, message, flags)) \
    F(amqp_queue_delete_ok_t *, amqp_queue_delete, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t queue, amqp_boolean_t if_unused, amqp_boolean_t if_empty), (state, channel, queue, if_unused, if_empty)) \
    F(amqp_queue_declare_ok_t *, amqp_queue_declare, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t queue, amqp_boolean_t passive, amqp_boolean_t durable, amqp_boolean_t exclusive, amqp_boolean_t auto_delete, amqp_table_t arguments), (state, channel, queue, passive, durable, exclusive, auto_delete, arguments)) \
    F(amqp_connection_state_t, amqp_new_connection, (void), ()) \
    V(amqp_destroy_message, (amqp_message_t *message), (message)) \
    F(amqp_rpc_reply_t, amqp_connection_close, (amqp_connection_state_t state, int code), (state, code)) \
    F(amqp_confirm_select_ok_t *, amqp_confirm_select, (amqp_connection_state_t state, amqp_channel_t channel), (state, channel)) \
    F(amqp_rpc_reply_t, amqp_channel_close, (amqp_connection_state_t state, amqp_channel_t channel, int code), (state, channel, code)) \
    F(int, amqp_basic_publish, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t exchange, amqp_bytes_t routing_key, amqp_boolean_t mandatory, amqp_boolean_t immediate, struct amqp_basic_properties_t_ const *properties, amqp_bytes_t body), (state, channel, exchange, routing_key, mandatory, immediate, properties, body)) \
    F(amqp_basic_cancel_ok_t *, amqp_basic_cancel, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t consumer_tag), (state, channel, consumer_tag)) \
    F(int, amqp_socket_open_noblock, (amqp_socket_t *self, const char *host, int port, const struct timeval *timeout), (self, host, port, timeout)) \
    F(int, amqp_socket_open, (amqp_socket_t *self, const char *host, int port), (self, host, port)) \
    F(int, amqp_simple_wait_frame_noblock, (amqp_connection_state_t state, amqp_frame_t *decoded_frame, const struct timeval *tv), (state, decoded_frame, tv)) \
    F(int, amqp_set_rpc_timeout, (amqp_connection_state_t state, const struct timeval *timeout), (state, timeout)) \
    F(amqp_queue_unbind_ok_t *, amqp_queue_unbind, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t queue, amqp_bytes_t exchange, amqp_bytes_t routing_key, amqp_table_t arguments), (state, channel, queue, exchange, routing_key, arguments)) \
    F(amqp_queue_purge_ok_t *, amqp_queue_purge, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t queue), (state, channel, queue)) \
    F(amqp_queue_bind_ok_t *, amqp_queue_bind, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t queue, amqp_bytes_t exchange, amqp_bytes_t routing_key, amqp_table_t arguments), (state, channel, queue, exchange, routing_key, arguments)) \
    F(int, amqp_get_sockfd, (amqp_connection_state_t state), (state)) \
    F(int, amqp_get_channel_max, (amqp_connection_state_t state), (state)) \
    F(amqp_exchange_delete_ok_t *, amqp_exchange_delete, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t exchange, amqp_boolean_t if_unused), (state, channel, exchange, if_unused)) \
    F(amqp_exchange_declare_ok_t *, amqp_exchange_declare, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t exchange, amqp_bytes_t type, amqp_boolean_t passive, amqp_boolean_t durable, amqp_boolean_t auto_delete, amqp_boolean_t internal, amqp_table_t arguments), (state, channel, exchange, type, passive, durable, auto_delete, internal, arguments)) \
    V(amqp_destroy_envelope, (amqp_envelope_t *envelope), (envelope)) \
    F(amqp_rpc_reply_t, amqp_consume_message, (amqp_connection_state_t state, amqp_envelope_t *envelope, const struct timeval *timeout, int flags), (state, envelope, timeout, flags)) \
    F(amqp_bytes_t, amqp_bytes_malloc_dup, (amqp_bytes_t src), (src)) \
    V(amqp_bytes_free, (amqp_bytes_t bytes), (bytes)) \
    F(int, amqp_basic_reject, (amqp_connection_state_t state, amqp_channel_t channel, uint64_t delivery_tag, amqp_boolean_t requeue), (state, channel, delivery_tag, requeue)) \
    F(int, amqp_basic_nack, (amqp_connection_state_t state, amqp_channel_t channel, uint64_t delivery_tag, amqp_boolean_t multiple, amqp_boolean_t requeue), (state, channel, delivery_tag, multiple, requeue)) \
    F(amqp_rpc_reply_t, amqp_basic_get, (amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t queue, amqp_boolean_t no_ack), (state, channel, queue, no_ack))

/* The library's own definitions, set once by load(). */
#define RABBITCHAT_POINTER_F(ret, name, params, args) static ret(*rabbitchat_##name) params;
#define RABBITCHAT_POINTER_V(name, params, args) static void(*rabbitchat_##name) params;
RABBITCHAT_LIBRABBITMQ_FUNCTIONS(RABBITCHAT_POINTER_F, RABBITCHAT_POINTER_V)
static amqp_rpc_reply_t (*rabbitchat_amqp_login)(amqp_connection_state_t, char const *, int, int, int,
                                                 amqp_sasl_method_enum, ...);
static amqp_rpc_reply_t (*rabbitchat_amqp_login_with_properties)(amqp_connection_state_t, char const *, int, int,
                                                                 int, const amqp_table_t *, amqp_sasl_method_enum,
                                                                 ...);

static pthread_once_t rabbitchat_once = PTHREAD_ONCE_INIT;
/* 1 once every pointer is set; written once by load(), read with acquire ordering. */
static int rabbitchat_loaded;
static char rabbitchat_failure[200];

static void rabbitchat_load_once(void) {
    void *library = dlopen("librabbitmq.so.4", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(rabbitchat_failure, sizeof rabbitchat_failure,
                 "librabbitmq is not installed: run apt-get install -y librabbitmq4 (or scripts/run)");
        return;
    }
#define RABBITCHAT_RESOLVE(name)                                                                              \
    if ((*(void **)&rabbitchat_##name = dlsym(library, #name)) == NULL) {                                    \
        snprintf(rabbitchat_failure, sizeof rabbitchat_failure,                                               \
                 "librabbitmq.so.4 has no %s: install rabbitmq-c 0.11 or later with apt-get install -y librabbitmq4", \
                 #name);                                                                                      \
        return;                                                                                               \
    }
#define RABBITCHAT_RESOLVE_F(ret, name, params, args) RABBITCHAT_RESOLVE(name)
#define RABBITCHAT_RESOLVE_V(name, params, args) RABBITCHAT_RESOLVE(name)
    RABBITCHAT_LIBRABBITMQ_FUNCTIONS(RABBITCHAT_RESOLVE_F, RABBITCHAT_RESOLVE_V)
    RABBITCHAT_RESOLVE(amqp_login)
    RABBITCHAT_RESOLVE(amqp_login_with_properties)
    __atomic_store_n(&rabbitchat_loaded, 1, __ATOMIC_RELEASE);
}

const char *rabbitchat_librabbitmq_load(void) {
    pthread_once(&rabbitchat_once, rabbitchat_load_once);
    return __atomic_load_n(&rabbitchat_loaded, __ATOMIC_ACQUIRE) ? NULL : rabbitchat_failure;
}

/* Every forwarder starts here. Swift code loads the library first (RabbitMQBroker.connect
   reports a missing library as an error); this is the safety net for any other caller. */
static inline void rabbitchat_require(void) {
    if (__builtin_expect(!__atomic_load_n(&rabbitchat_loaded, __ATOMIC_ACQUIRE), 0)) {
        const char *failure = rabbitchat_librabbitmq_load();
        if (failure != NULL) {
            fprintf(stderr, "%s\n", failure);
            abort();
        }
    }
}

#define RABBITCHAT_FORWARD_F(ret, name, params, args) \
    ret name params {                                 \
        rabbitchat_require();                         \
        return rabbitchat_##name args;                \
    }
#define RABBITCHAT_FORWARD_V(name, params, args) \
    void name params {                           \
        rabbitchat_require();                    \
        rabbitchat_##name args;                  \
    }
RABBITCHAT_LIBRABBITMQ_FUNCTIONS(RABBITCHAT_FORWARD_F, RABBITCHAT_FORWARD_V)

amqp_rpc_reply_t rabbitchat_login_plain(amqp_connection_state_t state, const char *vhost, int channel_max,
                                        int frame_max, int heartbeat, const char *user, const char *password) {
    rabbitchat_require();
    return rabbitchat_amqp_login(state, vhost, channel_max, frame_max, heartbeat, AMQP_SASL_METHOD_PLAIN, user,
                                 password);
}

amqp_rpc_reply_t rabbitchat_login_plain_with_properties(amqp_connection_state_t state, const char *vhost,
                                                        int channel_max, int frame_max, int heartbeat,
                                                        const amqp_table_t *properties, const char *user,
                                                        const char *password) {
    rabbitchat_require();
    return rabbitchat_amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat, properties,
                                                 AMQP_SASL_METHOD_PLAIN, user, password);
}

/* The library's constants, for callers that use them (zero values, as rabbitmq-c's). */
amqp_bytes_t const amqp_empty_bytes = {0, NULL};
amqp_table_t const amqp_empty_table = {0, NULL};
