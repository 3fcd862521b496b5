#ifndef RABBITCHAT_CRABBITMQ_H
#define RABBITCHAT_CRABBITMQ_H

/* rabbitmq-c 0.11 (Debian 12, librabbitmq-dev) ships flat headers; amqp.h needs <sys/time.h>
   first. The declarations come from those headers, but nothing links -lrabbitmq: the
   functions this project calls are defined in LibRabbitMQ.c, which forwards each to
   librabbitmq.so.4 loaded with dlopen. So a program that never talks to RabbitMQ starts on
   a machine without librabbitmq, and one that does gets a clear error instead of a loader
   failure. Calling a rabbitmq-c function that LibRabbitMQ.c does not forward is a link
   error: add it to the list there. */
#include <sys/time.h>
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>

/* Loads librabbitmq.so.4 and resolves every function the project uses, once per process
   (thread-safe). Returns NULL when the library is ready, else one sentence saying what to
   install. */
const char *rabbitchat_librabbitmq_load(void);

/* amqp_login is variadic, which Swift cannot call: these fixed-arity wrappers log in with
   SASL PLAIN, the second with client properties (connection_name, capabilities) that
   rabbitmq-c merges with its defaults. */
amqp_rpc_reply_t rabbitchat_login_plain(amqp_connection_state_t state, const char *vhost, int channel_max,
                                        int frame_max, int heartbeat, const char *user, const char *password);
amqp_rpc_reply_t rabbitchat_login_plain_with_properties(amqp_connection_state_t state, const char *vhost,
                                                        int channel_max, int frame_max, int heartbeat,
                                                        const amqp_table_t *properties, const char *user,
                                                        const char *password);

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
