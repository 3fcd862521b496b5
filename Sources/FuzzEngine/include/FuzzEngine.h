#ifndef RABBITCHAT_FUZZ_ENGINE_H
#define RABBITCHAT_FUZZ_ENGINE_H

#include <stddef.h>
#include <stdint.h>

/// One fuzz input in, 0 out (libFuzzer's LLVMFuzzerTestOneInput signature).
typedef int (*fuzz_engine_callback)(const uint8_t *data, size_t size);

/// 1 when this binary was built for fuzzing (scripts/fuzz.sh passes -DRABBITCHAT_FUZZING and
/// links libFuzzer), 0 in a plain build.
int fuzz_engine_is_linked(void);

/// Hands the command line to libFuzzer's driver, which calls `callback` for every input.
/// Returns libFuzzer's exit status, or -1 in a plain build.
int fuzz_engine_run(int argc, char **argv, fuzz_engine_callback callback);

#endif
