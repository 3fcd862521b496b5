#include "FuzzEngine.h"

#if defined(RABBITCHAT_FUZZING)
// libFuzzer's driver (compiler-rt, linked by -sanitize=fuzzer). Calling it from our own main
// keeps SwiftPM's executable entry point and still gives libFuzzer the whole command line.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif

int fuzz_engine_is_linked(void) {
#if defined(RABBITCHAT_FUZZING)
    return 1;
#else
    return 0;
#endif
}

int fuzz_engine_run(int argc, char **argv, fuzz_engine_callback callback) {
#if defined(RABBITCHAT_FUZZING)
    return LLVMFuzzerRunDriver(&argc, &argv, callback);
#else
    (void)argc;
    (void)argv;
    (void)callback;
    return -1;
#endif
}
