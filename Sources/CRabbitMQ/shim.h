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

#endif
