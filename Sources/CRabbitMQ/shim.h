#ifndef RABBITCHAT_CRABBITMQ_SHIM_H
#define RABBITCHAT_CRABBITMQ_SHIM_H

/* rabbitmq-c 0.11 (Debian 12) ships flat headers; amqp.h needs <sys/time.h> first. */
#include <sys/time.h>
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

/* amqp_login is variadic, which Swift cannot call: this fixed-arity wrapper
   logs in with SASL PLAIN. */
static inline amqp_rpc_reply_t rabbitchat_login_plain(amqp_connection_state_t state,
                                                       const char *vhost,
                                                       int channel_max,
                                                       int frame_max,
                                                       int heartbeat,
                                                       const char *user,
                                                       const char *password) {
    return amqp_login(state, vhost, channel_max, frame_max, heartbeat,
                      AMQP_SASL_METHOD_PLAIN, user, password);
}

/* The same with client properties (connection_name, capabilities); rabbitmq-c merges
   them with its defaults. */
static inline amqp_rpc_reply_t rabbitchat_login_plain_with_properties(
    amqp_connection_state_t state, const char *vhost, int channel_max, int frame_max,
    int heartbeat, const amqp_table_t *properties, const char *user, const char *password) {
    return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                      properties, AMQP_SASL_METHOD_PLAIN, user, password);
}

/* The method ids are macros with casts, which Swift does not import: plain constants. */
enum {
    RABBITCHAT_CONNECTION_CLOSE = AMQP_CONNECTION_CLOSE_METHOD,
    RABBITCHAT_CONNECTION_CLOSE_OK = AMQP_CONNECTION_CLOSE_OK_METHOD,
    RABBITCHAT_CONNECTION_BLOCKED = AMQP_CONNECTION_BLOCKED_METHOD,
    RABBITCHAT_CONNECTION_UNBLOCKED = AMQP_CONNECTION_UNBLOCKED_METHOD,
    RABBITCHAT_CHANNEL_CLOSE = AMQP_CHANNEL_CLOSE_METHOD,
    RABBITCHAT_CHANNEL_CLOSE_OK = AMQP_CHANNEL_CLOSE_OK_METHOD,
    RABBITCHAT_BASIC_DELIVER = AMQP_BASIC_DELIVER_METHOD,
    RABBITCHAT_BASIC_RETURN = AMQP_BASIC_RETURN_METHOD,
    RABBITCHAT_BASIC_ACK = AMQP_BASIC_ACK_METHOD,
    RABBITCHAT_BASIC_NACK = AMQP_BASIC_NACK_METHOD,
    RABBITCHAT_BASIC_CANCEL = AMQP_BASIC_CANCEL_METHOD,
    RABBITCHAT_BASIC_CANCEL_OK = AMQP_BASIC_CANCEL_OK_METHOD,
    RABBITCHAT_BASIC_GET_OK = AMQP_BASIC_GET_OK_METHOD,
    RABBITCHAT_BASIC_GET_EMPTY = AMQP_BASIC_GET_EMPTY_METHOD,
};

#endif
