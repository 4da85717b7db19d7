/* SpiderMonkey 102 behind the C API of include/phx/js.h: one JSContext, a fresh
 * global per run, a custom promise job queue, an interrupt-driven abort, a GC
 * heap budget, stencils cached by source. The embedding pattern and its traps are
 * in ../shared/research/js_engine.md (§2, §3); the numbers there motivate the JIT
 * warm-up setting and the external helper-thread pool used here.
 *
 * No C++ exception may reach the C callers: this file is built with
 * -fno-exceptions (as SpiderMonkey itself is), and every allocation of ours is
 * new (std::nothrow), checked for NULL. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <atomic>
#include <new>

#include <js/CompilationAndEvaluation.h>
#include <js/ContextOptions.h>
#include <js/Conversions.h>
#include <js/ErrorReport.h>
#include <js/Exception.h>
#include <js/HelperThreadAPI.h>
#include <js/Initialization.h>
#include <js/JSON.h>
#include <js/Modules.h>
#include <js/Promise.h>
#include <js/SourceText.h>
#include <js/experimental/JSStencil.h>
#include <js/experimental/TypedData.h>
#include <jsapi.h>
#include <jsfriendapi.h>

#include "phx/js.h"

extern "C" const char phx_js_prelude_source[];

namespace {

/* The promise job queue: a FIFO we own, so nothing queued by one run can ever
 * execute in another (research §3.7) and an abort can drop it. */
class JobQueue : public JS::JobQueue {
  public:
    explicit JobQueue(JSContext *cx)
        : queue_(cx, JS::GCVector<JSObject *, 0, js::SystemAllocPolicy>())
    {
    }
    JSObject *getIncumbentGlobal(JSContext *cx) override { return JS::CurrentGlobalOrNull(cx); }
    bool enqueuePromiseJob(JSContext *cx, JS::HandleObject, JS::HandleObject job, JS::HandleObject,
                           JS::HandleObject) override
    {
        if (!queue_.append(job)) {
            JS_ReportOutOfMemory(cx);
            return false;
        }
        return true;
    }
    void runJobs(JSContext *cx) override { (void)drain(cx, nullptr); }
    bool empty() const override { return queue_.empty(); }
    void clear() { queue_.clear(); }

    /* Run jobs until empty. Returns false when a job failed with an uncatchable
     * termination (abort) — then the queue is dropped. */
    bool drain(JSContext *cx, const std::atomic<int> *abort_reason)
    {
        JS::RootedObject job(cx);
        JS::RootedValue rv(cx);
        while (!queue_.empty()) {
            if (abort_reason && abort_reason->load()) {
                clear();
                return false;
            }
            job = queue_[0];
            queue_.erase(queue_.begin());
            JSAutoRealm ar(cx, job);
            if (!JS::Call(cx, JS::UndefinedHandleValue, job, JS::HandleValueArray::empty(), &rv)) {
                if (!JS_IsExceptionPending(cx)) { /* uncatchable: interrupt or OOM */
                    clear();
                    return false;
                }
                /* A job's exception is a rejected promise's concern; drop it. */
                JS_ClearPendingException(cx);
            }
        }
        return true;
    }

  private:
    js::UniquePtr<SavedJobQueue> saveJobQueue(JSContext *) override { return nullptr; }
    JS::PersistentRooted<JS::GCVector<JSObject *, 0, js::SystemAllocPolicy>> queue_;
};

struct CachedStencil {
    uint64_t hash;
    char *source;
    size_t len;
    char *filename; /* baked into the stencil (error locations): part of the key */
    bool module;
    RefPtr<JS::Stencil> stencil;
};

} // namespace

struct phx_js_engine {
    JSContext *cx;
    phx_js_config_t cfg;
    JobQueue *jobs;
    RefPtr<JS::Stencil> prelude;
    CachedStencil cache[16];
    size_t ncache;
    std::atomic<int> abort_reason;
    size_t heap_baseline;
    bool running;
    const phx_js_call_t *call;
    /* The realm prepared ahead of the job (phx_js_prepare): a global that has
     * only ever run the prelude, and the prelude's setup function. */
    JS::PersistentRooted<JSObject *> *ready_global;
    /* A global no contract ever runs in: the realm for compiling ahead of time
     * (a failed compile creates error objects, which needs a realm). */
    JS::PersistentRooted<JSObject *> *utility_global;
    JS::PersistentRooted<JS::Value> *ready_setup;
};

static phx_js_engine *g_engine; /* one per process: SpiderMonkey's callbacks need it */

/* ---- helper threads ---------------------------------------------------------
 * SpiderMonkey normally starts its own helper threads in JS_NewContext. Threads do
 * not survive fork, so we give it an external pool instead: tasks are counted
 * here and run by one thread we start after fork (or inline before fork). */
static sem_t g_task_sem;
static std::atomic<int> g_tasks_pending{0};
static bool g_threads_started;

static void helper_task_cb(JS::DispatchReason)
{
    g_tasks_pending.fetch_add(1);
    if (g_threads_started) sem_post(&g_task_sem);
}

static void *helper_thread_main(void *)
{
    for (;;) {
        while (sem_wait(&g_task_sem) != 0 && errno == EINTR) {
        }
        g_tasks_pending.fetch_sub(1);
        JS::RunHelperThreadTask();
    }
    return nullptr;
}

/* ---- callbacks ---------------------------------------------------------------- */

static bool interrupt_cb(JSContext *)
{
    /* Returning false raises an uncatchable termination (research §2). */
    return !(g_engine && g_engine->abort_reason.load());
}

static void gc_cb(JSContext *cx, JSGCStatus status, JS::GCReason, void *)
{
    phx_js_engine *eng = g_engine;
    if (status != JSGC_END || !eng || !eng->running) return;
    size_t bytes = JS_GetGCParameter(cx, JSGC_BYTES);
    if (bytes > eng->heap_baseline + eng->cfg.heap_max_bytes) {
        int expected = 0;
        eng->abort_reason.compare_exchange_strong(expected, PHX_JS_MEMORY_LIMIT);
        JS_RequestInterruptCallback(cx);
    }
}

static JSObject *module_resolve_hook(JSContext *cx, JS::HandleValue, JS::HandleObject request)
{
    JS::RootedString spec(cx, JS::GetModuleRequestSpecifier(cx, request));
    JS::UniqueChars s = spec ? JS_EncodeStringToUTF8(cx, spec) : nullptr;
    JS_ReportErrorUTF8(cx, "import of '%s' is not supported: a contract is one module",
                       s ? s.get() : "?");
    return nullptr;
}

static const JSClass global_class = {
    "global", JSCLASS_GLOBAL_FLAGS, &JS::DefaultGlobalClassOps, nullptr, nullptr, nullptr};

extern "C" const char *phx_js_status_name(phx_js_status_t s)
{
    switch (s) {
    case PHX_JS_OK:
        return "ok";
    case PHX_JS_EXCEPTION:
        return "exception";
    case PHX_JS_COMPILE:
        return "compile_error";
    case PHX_JS_NO_ENTRY:
        return "no_entry";
    case PHX_JS_PENDING:
        return "pending";
    case PHX_JS_CPU_LIMIT:
        return "cpu_limit";
    case PHX_JS_MEMORY_LIMIT:
        return "memory_limit";
    case PHX_JS_OUTPUT_LIMIT:
        return "output_limit";
    case PHX_JS_WALL_LIMIT:
        return "wall_limit";
    case PHX_JS_HOST_ABORT:
        return "host_abort";
    }
    return "unknown";
}

static uint64_t fnv1a(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

/* Whether a source that compiles neither way was meant as a module: the words
 * export or import outside an identifier. Only picks which error to report. */
static bool is_ident(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '$' || c == '.';
}

static bool looks_like_module(const char *src, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++) {
        bool exp = !memcmp(src + i, "export", 6), imp = !memcmp(src + i, "import", 6);
        if (!exp && !imp) continue;
        if (i && is_ident(src[i - 1])) continue;
        if (i + 6 < len &&
            (src[i + 6] == ' ' || src[i + 6] == '{' || src[i + 6] == '*' || src[i + 6] == '\n' ||
             src[i + 6] == '\t' || src[i + 6] == '"' || src[i + 6] == '\''))
            return true;
    }
    return false;
}

static phx_err_t compile_cached(phx_js_engine *eng, const char *src, size_t len, const char *name,
                                CachedStencil **out, phx_error_t *e)
{
    uint64_t h = fnv1a(src, len);
    if (!name) name = "contract.js";
    for (size_t i = 0; i < eng->ncache; i++) {
        CachedStencil *c = &eng->cache[i];
        if (c->hash == h && c->len == len && !strcmp(c->filename, name) &&
            !memcmp(c->source, src, len)) {
            *out = c;
            return PHX_OK;
        }
    }
    JSContext *cx = eng->cx;
    JS::CompileOptions opts(cx);
    opts.setFileAndLine(name, 1);
    JS::SourceText<mozilla::Utf8Unit> text;
    if (!text.init(cx, src, len, JS::SourceOwnership::Borrowed)) {
        JS_ClearPendingException(cx);
        return phx_fail(e, PHX_ERR_NOMEM, "source too large");
    }
    /* Script first: a Phat script (sloppy mode, `scriptOutput = ...`) must not be
     * run as a module just because a comment says "import". Anything with
     * import/export declarations or top-level await fails as a script and
     * compiles as a module. If both fail, report the error of the likelier form. */
    bool module = false;
    RefPtr<JS::Stencil> st = JS::CompileGlobalScriptToStencil(cx, opts, text);
    if (!st && !eng->abort_reason.load()) {
        JS_ClearPendingException(cx);
        st = JS::CompileModuleScriptToStencil(cx, opts, text);
        module = true;
        if (!st && !looks_like_module(src, len)) {
            JS_ClearPendingException(cx);
            st = JS::CompileGlobalScriptToStencil(cx, opts, text);
            module = false;
        }
    }
    if (!st) return phx_fail(e, PHX_ERR_INVALID, "compile failed"); /* caller reports */
    size_t slot = eng->ncache < 16 ? eng->ncache++ : (size_t)(h % 16);
    CachedStencil *c = &eng->cache[slot];
    free(c->source);
    free(c->filename);
    c->source = (char *)malloc(len ? len : 1);
    c->filename = strdup(name);
    if (!c->source || !c->filename) {
        c->len = 0;
        c->hash = 0;
        return phx_fail(e, PHX_ERR_NOMEM, "cache");
    }
    memcpy(c->source, src, len);
    c->len = len;
    c->hash = h;
    c->module = module;
    c->stencil = st;
    *out = c;
    return PHX_OK;
}

/* Undo a partly made engine (phx_js_engine_new's failure paths): the job queue
 * and stencils go before the context they belong to. g_engine never pointed
 * at it. */
static void engine_destroy(phx_js_engine *eng)
{
    if (!eng) return;
    if (eng->cx) {
        JS::SetJobQueue(eng->cx, nullptr);
        delete eng->jobs;
        eng->jobs = nullptr;
        eng->prelude = nullptr;
        for (size_t i = 0; i < sizeof eng->cache / sizeof eng->cache[0]; i++) {
            eng->cache[i].stencil = nullptr;
            free(eng->cache[i].source);
            free(eng->cache[i].filename);
        }
        JS_DestroyContext(eng->cx);
    }
    delete eng;
}

extern "C" phx_err_t phx_js_engine_new(const phx_js_config_t *cfg, phx_js_engine_t **out,
                                       phx_error_t *e)
{
    /* JS_Init may run once per process and is never undone, so a failed engine
     * can be retried: the runtime is set up once, engines after it. */
    static bool js_initialised;
    *out = nullptr;
    if (g_engine) return phx_fail(e, PHX_ERR_STATE, "one engine per process");
    if (!js_initialised) {
        sem_init(&g_task_sem, 0, 0);
        if (!JS_Init()) return phx_fail(e, PHX_ERR_INTERNAL, "JS_Init failed");
        /* After JS_Init, before JS_NewContext: keeps SpiderMonkey from starting
         * its own threads, so the zygote can fork safely. */
        JS::SetHelperThreadTaskCallback(helper_task_cb, 1, 1 << 20);
        js_initialised = true;
    }
    phx_err_t err = PHX_OK;
    phx_js_engine *eng = new (std::nothrow) phx_js_engine();
    if (!eng) return phx_fail(e, PHX_ERR_NOMEM, "engine");
    eng->cfg = *cfg;
    /* The hard JSGC_MAX_BYTES is only a backstop; the per-run budget is soft
     * (research §3.9: a hard cap turns into a GC death spiral). */
    eng->cx = JS_NewContext(cfg->heap_max_bytes * 4 + (64u << 20));
    if (!eng->cx) {
        err = phx_fail(e, PHX_ERR_NOMEM, "JS_NewContext failed");
        goto fail;
    }
    {
        JSContext *cx = eng->cx;
        /* JIT options are process-global and must be set before self-hosted init. */
        if (cfg->jit) {
            JS_SetGlobalJitCompilerOption(cx, JSJITCOMPILER_BASELINE_INTERPRETER_WARMUP_TRIGGER,
                                          1000);
        } else {
            JS_SetGlobalJitCompilerOption(cx, JSJITCOMPILER_BASELINE_INTERPRETER_ENABLE, 0);
            JS_SetGlobalJitCompilerOption(cx, JSJITCOMPILER_BASELINE_ENABLE, 0);
            JS_SetGlobalJitCompilerOption(cx, JSJITCOMPILER_ION_ENABLE, 0);
        }
        JS_SetNativeStackQuota(cx, 6 << 20);
        if (!(eng->jobs = new (std::nothrow) JobQueue(cx))) {
            err = phx_fail(e, PHX_ERR_NOMEM, "job queue");
            goto fail;
        }
        JS::SetJobQueue(cx, eng->jobs);
        if (!JS::InitSelfHostedCode(cx)) {
            err = phx_fail(e, PHX_ERR_INTERNAL, "InitSelfHostedCode failed");
            goto fail;
        }
        JS_SetGCParameter(cx, JSGC_MIN_LAST_DITCH_GC_PERIOD, 0);
        /* Collect after an eighth of the budget in malloc'd memory (strings, buffers)
         * rather than the default 38 MB, so garbage does not read as RSS growth. */
        {
            uint32_t mb = (uint32_t)(cfg->heap_max_bytes >> 23);
            JS_SetGCParameter(cx, JSGC_MALLOC_THRESHOLD_BASE, mb < 4 ? 4 : mb);
            /* A small nursery too: with the default (16 MiB) a loop of large
             * temporary strings (kv.put of a 200 KB value) peaked at ~73 MB RSS and
             * read as memory_limit under a 64 MiB budget in 1 run of 5; with 4 MiB,
             * 0 of 30. */
            JS_SetGCParameter(cx, JSGC_MAX_NURSERY_BYTES, 4u << 20);
        }
        JS::ContextOptionsRef(cx).setWasm(false).setAsmJS(false);
        JS_AddInterruptCallback(cx, interrupt_cb);
        JS_SetGCCallback(cx, gc_cb, nullptr);
        JS::SetModuleResolveHook(JS_GetRuntime(cx), module_resolve_hook);

        JS::CompileOptions opts(cx);
        opts.setFileAndLine("phx:prelude", 1);
        JS::SourceText<mozilla::Utf8Unit> text;
        if (!text.init(cx, phx_js_prelude_source, strlen(phx_js_prelude_source),
                       JS::SourceOwnership::Borrowed) ||
            !(eng->prelude = JS::CompileGlobalScriptToStencil(cx, opts, text))) {
            JS_ClearPendingException(cx);
            err = phx_fail(e, PHX_ERR_INTERNAL, "prelude does not compile");
            goto fail;
        }
    }
    /* Only a complete engine becomes the one the callbacks see. */
    g_engine = eng;
    *out = eng;
    return PHX_OK;
fail:
    engine_destroy(eng);
    return err;
}

static void capture_failure(phx_js_engine *eng, phx_js_result_t *res, phx_js_status_t fallback);

extern "C" phx_err_t phx_js_engine_precompile(phx_js_engine_t *eng, const char *source, size_t len,
                                              const char *filename, phx_error_t *e)
{
    JSContext *cx = eng->cx;
    if (!eng->utility_global) {
        JS::RealmOptions ro;
        JSObject *g = JS_NewGlobalObject(cx, &global_class, nullptr, JS::FireOnNewGlobalHook, ro);
        if (!g) {
            JS_ClearPendingException(cx);
            return phx_fail(e, PHX_ERR_NOMEM, "utility global");
        }
        eng->utility_global = new (std::nothrow) JS::PersistentRooted<JSObject *>(cx, g);
        if (!eng->utility_global) return phx_fail(e, PHX_ERR_NOMEM, "utility global");
    }
    JS::RootedObject g(cx, *eng->utility_global);
    JSAutoRealm ar(cx, g);
    CachedStencil *c;
    phx_err_t err = compile_cached(eng, source, len, filename, &c, e);
    if (err == PHX_ERR_INVALID) {
        /* The syntax error with its file and line, so `phx deploy` can refuse
         * the code in the user's words before it goes anywhere. */
        phx_js_result_t r = {};
        capture_failure(eng, &r, PHX_JS_COMPILE);
        phx_fail(e, err, "%s", r.message[0] ? r.message : "compile failed");
        phx_js_result_free(&r);
    }
    JS_ClearPendingException(cx);
    return err;
}

extern "C" void phx_js_engine_quiesce(phx_js_engine_t *)
{
    while (g_tasks_pending.load() > 0) {
        g_tasks_pending.fetch_sub(1);
        JS::RunHelperThreadTask();
    }
}

extern "C" phx_err_t phx_js_engine_start_threads(phx_js_engine_t *, phx_error_t *e)
{
    if (g_threads_started) return PHX_OK;
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 2u << 20);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int rc = pthread_create(&t, &attr, helper_thread_main, nullptr);
    pthread_attr_destroy(&attr);
    if (rc) return phx_fail(e, PHX_ERR_INTERNAL, "helper thread: %s", strerror(rc));
    g_threads_started = true;
    for (int i = g_tasks_pending.load(); i > 0; i--)
        sem_post(&g_task_sem);
    return PHX_OK;
}

extern "C" void phx_js_engine_abort(phx_js_engine_t *eng, phx_js_status_t reason)
{
    int expected = 0;
    eng->abort_reason.compare_exchange_strong(expected, (int)reason);
    JS_RequestInterruptCallback(eng->cx);
}

extern "C" size_t phx_js_engine_heap_bytes(phx_js_engine_t *eng)
{
    return JS_GetGCParameter(eng->cx, JSGC_BYTES);
}

extern "C" void phx_js_result_free(phx_js_result_t *res)
{
    if (!res) return;
    phx_buf_free(&res->output);
}

/* ---- natives exposed to the prelude (never to the contract directly) ----------- */

static bool native_host(JSContext *cx, unsigned argc, JS::Value *vp)
{
    JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
    phx_js_engine *eng = g_engine;
    if (!eng->call) { /* prepare/warm-up time: there is no host to call */
        JS_ReportErrorASCII(cx, "host calls are not available here");
        return false;
    }
    if (args.length() < 2 || !args[0].isString() || !args[1].isString()) {
        JS_ReportErrorASCII(cx, "host(op, json)");
        return false;
    }
    JS::RootedString op_s(cx, args[0].toString()), req_s(cx, args[1].toString());
    JS::UniqueChars op = JS_EncodeStringToUTF8(cx, op_s);
    JS::UniqueChars req = op ? JS_EncodeStringToUTF8(cx, req_s) : nullptr;
    if (!req) return false;
    phx_buf_t reply = PHX_BUF_INIT;
    phx_error_t err = {};
    bool abort_run = false;
    phx_err_t rc = eng->call->host(eng->call->host_ud, op.get(), req.get(), strlen(req.get()),
                                   &reply, &abort_run, &err);
    if (abort_run) {
        phx_buf_free(&reply);
        int expected = 0;
        eng->abort_reason.compare_exchange_strong(expected, PHX_JS_HOST_ABORT);
        return false; /* uncatchable: nothing pending */
    }
    if (rc) {
        phx_buf_free(&reply);
        JS_ReportErrorUTF8(cx, "%s", err.message[0] ? err.message : phx_strerror(rc));
        return false;
    }
    JSString *s = JS_NewStringCopyUTF8N(cx, JS::UTF8Chars((const char *)reply.ptr, reply.len));
    phx_buf_free(&reply);
    if (!s) return false;
    args.rval().setString(s);
    return true;
}

static bool native_random(JSContext *cx, unsigned argc, JS::Value *vp)
{
    JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
    if (args.length() < 1 || !args[0].isObject()) {
        JS_ReportErrorASCII(cx, "getRandomValues: expected an integer TypedArray");
        return false;
    }
    size_t len;
    bool shared;
    uint8_t *data;
    JS::RootedObject obj(cx, &args[0].toObject());
    if (!JS_GetObjectAsArrayBufferView(obj, &len, &shared, &data)) {
        JS_ReportErrorASCII(cx, "getRandomValues: expected an integer TypedArray");
        return false;
    }
    size_t bytes = JS_GetArrayBufferViewByteLength(obj);
    if (bytes > 65536) {
        JS_ReportErrorASCII(cx, "getRandomValues: QuotaExceededError (more than 65536 bytes)");
        return false;
    }
    JS::AutoCheckCannotGC nogc;
    data = (uint8_t *)JS_GetArrayBufferViewData(obj, &shared, nogc);
    size_t off = 0;
    while (off < bytes) {
        ssize_t n = getrandom(data + off, bytes - off, 0);
        if (n <= 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += (size_t)n;
    }
    args.rval().set(args[0]);
    return true;
}

/* sleep(ms): the timers' clock. Bounded by the wall limit (the worker kills a
 * sleeping child at its deadline); sleeping uses no CPU. */
static bool native_sleep(JSContext *cx, unsigned argc, JS::Value *vp)
{
    JS::CallArgs args = JS::CallArgsFromVp(argc, vp);
    double ms = 0;
    if (args.length() > 0 && !JS::ToNumber(cx, args[0], &ms)) return false;
    if (ms > 0 && ms < 1e9) {
        struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000.0) * 1e6)};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            if (g_engine->abort_reason.load()) break;
        }
    }
    args.rval().setUndefined();
    return true;
}

static bool native_crash(JSContext *, unsigned, JS::Value *)
{
    /* Test-only: behave like a contract that took over its process and died. */
    volatile int *p = nullptr;
    *p = 1;
    return false;
}

/* ---- one run ---------------------------------------------------------------------- */

static void set_msg(phx_js_result_t *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
}

/* Turn whatever stopped the run into a status and message, inside the realm
 * (research §3.2) and without running contract code (§3.8: NoSideEffects). */
static void capture_failure(phx_js_engine *eng, phx_js_result_t *res, phx_js_status_t fallback)
{
    JSContext *cx = eng->cx;
    int reason = eng->abort_reason.load();
    if (reason) {
        res->status = (phx_js_status_t)reason;
        if (!res->message[0]) set_msg(res, "%s", phx_js_status_name(res->status));
        JS_ClearPendingException(cx);
        return;
    }
    if (!JS_IsExceptionPending(cx)) {
        res->status = PHX_JS_MEMORY_LIMIT; /* uncatchable with no abort: engine OOM */
        set_msg(res, "out of memory");
        return;
    }
    if (JS_IsThrowingOutOfMemory(cx)) {
        JS_ClearPendingException(cx);
        res->status = PHX_JS_MEMORY_LIMIT;
        set_msg(res, "out of memory");
        return;
    }
    JS::ExceptionStack stack(cx);
    if (!JS::StealPendingExceptionStack(cx, &stack)) {
        JS_ClearPendingException(cx);
        res->status = fallback;
        set_msg(res, "unknown error");
        return;
    }
    JS::ErrorReportBuilder report(cx);
    if (!report.init(cx, stack, JS::ErrorReportBuilder::NoSideEffects)) {
        JS_ClearPendingException(cx);
        res->status = fallback;
        set_msg(res, "uncaught exception");
        return;
    }
    res->status = fallback;
    const char *msg = report.toStringResult().c_str();
    /* "too much recursion" is an InternalError, still the contract's exception. */
    /* In a bundle (phx build) the location is the user's file and line, from
     * the bundle's inline source map; else the contract's own. */
    char mapped[256];
    unsigned mapped_line = 0;
    const phx_js_call_t *call = eng->running ? eng->call : NULL;
    if (report.report() && report.report()->filename && call && call->source &&
        phx_js_sourcemap_lookup(call->source, call->source_len, report.report()->lineno,
                                report.report()->column, mapped, sizeof mapped, &mapped_line,
                                NULL) == PHX_OK)
        set_msg(res, "%s (%s:%u)", msg ? msg : "exception", mapped, mapped_line);
    else if (report.report() && report.report()->filename)
        set_msg(res, "%s (%s:%u)", msg ? msg : "exception", report.report()->filename,
                report.report()->lineno);
    else
        set_msg(res, "%s", msg ? msg : "exception");
}

static bool define_natives(JSContext *cx, JS::HandleObject global, bool test_hooks)
{
    JS::RootedObject nat(cx, JS_NewPlainObject(cx));
    if (!nat) return false;
    if (!JS_DefineFunction(cx, nat, "host", native_host, 2, 0) ||
        !JS_DefineFunction(cx, nat, "random", native_random, 1, 0) ||
        !JS_DefineFunction(cx, nat, "sleep", native_sleep, 1, 0))
        return false;
    if (test_hooks && !JS_DefineFunction(cx, nat, "crash", native_crash, 0, 0)) return false;
    JS::RootedValue v(cx, JS::ObjectValue(*nat));
    /* Configurable so the prelude can delete it after capturing the functions. */
    return JS_DefineProperty(cx, global, "__phx_native", v, 0);
}

/* Settle a value: drain jobs; while a promise is still pending, fire the next
 * timer (the prelude's tick() sleeps until it is due) and drain again. The
 * CPU and wall limits bound both. */
static bool settle(phx_js_engine *eng, JS::HandleValue tick, JS::MutableHandleValue v,
                   phx_js_result_t *res)
{
    JSContext *cx = eng->cx;
    for (;;) {
        if (!eng->jobs->drain(cx, &eng->abort_reason)) {
            capture_failure(eng, res, PHX_JS_EXCEPTION);
            return false;
        }
        if (!v.isObject() || !tick.isObject()) break;
        JS::RootedObject p(cx, &v.toObject());
        if (!JS::IsPromiseObject(p) || JS::GetPromiseState(p) != JS::PromiseState::Pending) break;
        JS::RootedValue fired(cx);
        if (!JS::Call(cx, JS::UndefinedHandleValue, tick, JS::HandleValueArray::empty(), &fired)) {
            capture_failure(eng, res, PHX_JS_EXCEPTION);
            return false;
        }
        if (!fired.isTrue()) break; /* no timers left: it will never settle */
    }
    if (!v.isObject()) return true;
    JS::RootedObject obj(cx, &v.toObject());
    if (!JS::IsPromiseObject(obj)) return true;
    switch (JS::GetPromiseState(obj)) {
    case JS::PromiseState::Fulfilled:
        v.set(JS::GetPromiseResult(obj));
        return true;
    case JS::PromiseState::Rejected: {
        JS::RootedValue why(cx, JS::GetPromiseResult(obj));
        JS_SetPendingException(cx, why);
        capture_failure(eng, res, PHX_JS_EXCEPTION);
        return false;
    }
    case JS::PromiseState::Pending:
        res->status = PHX_JS_PENDING;
        set_msg(res,
                "the contract's promise never settled (awaiting something that never happens)");
        return false;
    }
    return false;
}

static bool produce_output(phx_js_engine *eng, JS::HandleValue v, phx_js_result_t *res)
{
    JSContext *cx = eng->cx;
    if (v.isObject()) {
        size_t len;
        bool shared;
        uint8_t *data;
        if (JS_GetObjectAsUint8Array(&v.toObject(), &len, &shared, &data)) {
            if (len > eng->cfg.output_max_bytes) {
                res->status = PHX_JS_OUTPUT_LIMIT;
                set_msg(res, "output of %zu bytes exceeds the limit of %zu", len,
                        eng->cfg.output_max_bytes);
                return false;
            }
            res->output_is_bytes = true;
            if (phx_buf_append(&res->output, data, len)) {
                res->status = PHX_JS_MEMORY_LIMIT;
                return false;
            }
            return true;
        }
    }
    if (v.isUndefined()) return phx_buf_append_str(&res->output, "null") == PHX_OK;
    /* JSON.stringify runs the contract's toJSON/getters: still under the budget. */
    JS::RootedObject replacer(cx);
    JS::RootedValue value(cx, v);
    struct Sink {
        phx_buf_t *buf;
        size_t max;
        bool over;
    } sink = {&res->output, eng->cfg.output_max_bytes, false};
    auto cb = [](const char16_t *s, uint32_t n, void *data) -> bool {
        Sink *k = (Sink *)data;
        /* UTF-16 to UTF-8, stopping as soon as the cap is passed. */
        for (uint32_t i = 0; i < n; i++) {
            uint32_t c = s[i];
            if (c >= 0xD800 && c < 0xDC00 && i + 1 < n && s[i + 1] >= 0xDC00 && s[i + 1] < 0xE000) {
                c = 0x10000 + ((c - 0xD800) << 10) + (s[i + 1] - 0xDC00);
                i++;
            }
            uint8_t b[4];
            size_t m;
            if (c < 0x80) {
                b[0] = (uint8_t)c;
                m = 1;
            } else if (c < 0x800) {
                b[0] = (uint8_t)(0xC0 | c >> 6);
                b[1] = (uint8_t)(0x80 | (c & 0x3F));
                m = 2;
            } else if (c < 0x10000) {
                if (c >= 0xD800 && c < 0xE000) c = 0xFFFD; /* lone surrogate */
                b[0] = (uint8_t)(0xE0 | c >> 12);
                b[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
                b[2] = (uint8_t)(0x80 | (c & 0x3F));
                m = 3;
            } else {
                b[0] = (uint8_t)(0xF0 | c >> 18);
                b[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
                b[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
                b[3] = (uint8_t)(0x80 | (c & 0x3F));
                m = 4;
            }
            if (k->buf->len + m > k->max) {
                k->over = true;
                return false;
            }
            if (phx_buf_append(k->buf, b, m)) return false;
        }
        return true;
    };
    if (!JS_Stringify(cx, &value, replacer, JS::NullHandleValue, cb, &sink)) {
        if (sink.over) {
            JS_ClearPendingException(cx);
            res->status = PHX_JS_OUTPUT_LIMIT;
            set_msg(res, "output exceeds the limit of %zu bytes", eng->cfg.output_max_bytes);
            return false;
        }
        capture_failure(eng, res, PHX_JS_EXCEPTION);
        return false;
    }
    if (sink.over) {
        res->status = PHX_JS_OUTPUT_LIMIT;
        set_msg(res, "output exceeds the limit of %zu bytes", eng->cfg.output_max_bytes);
        return false;
    }
    if (res->output.len == 0) return phx_buf_append_str(&res->output, "null") == PHX_OK;
    return true;
}

/* Trusted warm-up run in a prepared realm before any contract sees it: it calls
 * common built-ins on values it creates and drops, so their lazily instantiated
 * self-hosted code, ICU collators and shapes exist already. It defines nothing
 * and touches no global; test_js checks that globals and prototypes are pristine. */
static const char warmup_source[] = R"JS((function () {
  'use strict';
  const o = JSON.parse('{"a":[1,2.5,"x",{"b":null}],"c":true}');
  JSON.stringify(o); JSON.stringify(o, null, 2);
  const a = [5, 3, 9, 1].map((x) => x * 2).filter((x) => x > 2).sort((x, y) => x - y);
  a.includes(6); a.indexOf(6); a.slice(1).concat([1]).reverse().join(','); a.reduce((s, x) => s + x, 0);
  a.find((x) => x > 5); a.some((x) => x > 5); a.every((x) => x > 0); Array.from(a); [...a].push(1);
  ['b', 'a'].sort((x, y) => x.localeCompare(y)); (1234.5).toFixed(2); (1234.5).toLocaleString();
  Object.values(o); Object.entries(o); Object.keys(o); Object.assign({}, o); ({ ...o });
  'Abc-def'.toUpperCase().toLowerCase().split('-').map((s) => s.trim().padStart(4, '0'));
  'x'.repeat(3).replace(/x/g, 'y').startsWith('y'); /^(\d+)-(\w+)$/.exec('12-ab'); `t${a.length}`;
  Math.max(1, 2); Math.min(1, 2); Math.round(1.5); Math.floor(1.5); Math.abs(-1); Math.pow(2, 10);
  BigInt('123') * 2n; (2n ** 64n).toString(16); Number('42'); parseInt('ff', 16); String(1.5);
  new Map([[1, 2]]).get(1); new Set([1]).has(1); new Uint8Array(4).fill(1).subarray(1);
  new TextDecoder().decode(new TextEncoder().encode('hé'));
  phx.hex.encode(phx.hex.decode('0x0102')); phx.abi.encode(['uint256', 'string'], [1n, 'a']);
  class K { #p = 1; get p() { return this.#p; } } new K().p;
  for (const [k, v] of Object.entries({ a: 1 })) void (k + v);
  (async () => { await null; return 1; })().then((x) => x);
  Promise.resolve(1).then((x) => x);
  try { null.x; } catch (e) { String(e); }
  new Date(0).toISOString(); Date.now();
})();)JS";

/* Build the contract's world in a new global: natives, then the prelude, which
 * evaluates to its setup function. warm: all standard classes now and the
 * trusted warm-up (a realm built once, in the zygote); otherwise the global's
 * resolve hook creates each standard class on first use (a realm per call). */
static bool build_realm(phx_js_engine *eng, bool test_hooks, bool warm,
                        JS::MutableHandleObject global, JS::MutableHandleValue setup,
                        phx_js_result_t *res)
{
    JSContext *cx = eng->cx;
    JS::RealmOptions ro;
    global.set(JS_NewGlobalObject(cx, &global_class, nullptr, JS::FireOnNewGlobalHook, ro));
    if (!global) {
        JS_ClearPendingException(cx); /* outside a realm: only clear (research §3.2) */
        res->status = PHX_JS_MEMORY_LIMIT;
        set_msg(res, "cannot create a global");
        return false;
    }
    JSAutoRealm ar(cx, global);
    JS::CompileOptions opts(cx);
    JS::InstantiateOptions iopts(opts);
    JS::RootedScript script(cx);
    if ((warm && !JS::InitRealmStandardClasses(cx)) || !define_natives(cx, global, test_hooks) ||
        !(script = JS::InstantiateGlobalStencil(cx, iopts, eng->prelude)) ||
        !JS_ExecuteScript(cx, script, setup)) {
        capture_failure(eng, res, PHX_JS_EXCEPTION);
        return false;
    }
    if (!setup.isObject()) {
        res->status = PHX_JS_EXCEPTION;
        set_msg(res, "prelude returned no setup function");
        return false;
    }
    if (warm) {
        JS::CompileOptions wopts(cx);
        wopts.setFileAndLine("phx:warmup", 1);
        JS::SourceText<mozilla::Utf8Unit> text;
        JS::RootedValue ignored(cx);
        if (!text.init(cx, warmup_source, sizeof warmup_source - 1,
                       JS::SourceOwnership::Borrowed) ||
            !JS::Evaluate(cx, wopts, text, &ignored) || !eng->jobs->drain(cx, &eng->abort_reason)) {
            capture_failure(eng, res, PHX_JS_EXCEPTION);
            return false;
        }
    }
    return true;
}

static bool run_in_realm(phx_js_engine *eng, JS::HandleObject global, JS::HandleValue setup,
                         const phx_js_call_t *call, phx_js_result_t *res)
{
    JSContext *cx = eng->cx;
    (void)global;
    /* setup(input, ctx) binds this invocation's input and ctx and returns the invoker. */
    JS::RootedValue invoker(cx);
    {
        JS::RootedString in(
            cx, JS_NewStringCopyUTF8Z(
                    cx, JS::ConstUTF8CharsZ(call->input_json ? call->input_json : "null",
                                            strlen(call->input_json ? call->input_json : "null"))));
        JS::RootedString cj(
            cx, in ? JS_NewStringCopyUTF8Z(
                         cx, JS::ConstUTF8CharsZ(call->ctx_json ? call->ctx_json : "{}",
                                                 strlen(call->ctx_json ? call->ctx_json : "{}")))
                   : nullptr);
        JS::RootedValueArray<2> sargs(cx);
        if (cj) {
            sargs[0].setString(in);
            sargs[1].setString(cj);
        }
        if (!cj || !JS::Call(cx, JS::UndefinedHandleValue, setup, sargs, &invoker)) {
            capture_failure(eng, res, PHX_JS_EXCEPTION);
            return false;
        }
    }
    if (!invoker.isObject()) {
        res->status = PHX_JS_EXCEPTION;
        set_msg(res, "prelude returned no invoker");
        return false;
    }
    JS::RootedValue tick(cx);
    {
        JS::RootedObject inv(cx, &invoker.toObject());
        if (!JS_GetProperty(cx, inv, "tick", &tick)) {
            capture_failure(eng, res, PHX_JS_EXCEPTION);
            return false;
        }
    }

    CachedStencil *c;
    phx_error_t err = {};
    if (compile_cached(eng, call->source, call->source_len, call->filename, &c, &err)) {
        capture_failure(eng, res, PHX_JS_COMPILE);
        res->status =
            eng->abort_reason.load() ? (phx_js_status_t)eng->abort_reason.load() : PHX_JS_COMPILE;
        return false;
    }
    JS::CompileOptions opts(cx);
    opts.setFileAndLine(call->filename ? call->filename : "contract.js", 1);
    JS::InstantiateOptions iopts(opts);
    JS::RootedValue ns(cx, JS::UndefinedValue()); /* module namespace or script result */
    bool is_module = c->module;
    /* scriptArgs is set by the prelude; run the contract's top level now. */
    if (is_module) {
        JS::RootedObject mod(cx, JS::InstantiateModuleStencil(cx, iopts, c->stencil));
        JS::RootedValue ev(cx);
        if (!mod || !JS::ModuleInstantiate(cx, mod) || !JS::ModuleEvaluate(cx, mod, &ev)) {
            capture_failure(eng, res, PHX_JS_EXCEPTION);
            return false;
        }
        if (!settle(eng, tick, &ev, res)) return false;
        JSObject *n = JS::GetModuleNamespace(cx, mod);
        if (!n) {
            capture_failure(eng, res, PHX_JS_EXCEPTION);
            return false;
        }
        ns.setObject(*n);
    } else {
        JS::RootedScript script(cx, JS::InstantiateGlobalStencil(cx, iopts, c->stencil));
        if (!script || !JS_ExecuteScript(cx, script, &ns)) {
            capture_failure(eng, res, PHX_JS_EXCEPTION);
            return false;
        }
    }

    JS::RootedValueArray<3> argv(cx);
    argv[0].set(ns);
    argv[1].setBoolean(is_module);
    JS::RootedValue rv(cx), no_entry(cx);
    JS::RootedObject inv(cx, &invoker.toObject());
    if (!JS_GetProperty(cx, inv, "noEntry", &no_entry) ||
        !JS::Call(cx, JS::UndefinedHandleValue, invoker, JS::HandleValueArray::subarray(argv, 0, 2),
                  &rv)) {
        capture_failure(eng, res, PHX_JS_EXCEPTION);
        return false;
    }
    if (!settle(eng, tick, &rv, res)) return false;
    if (rv.isObject() && no_entry.isObject() && &rv.toObject() == &no_entry.toObject()) {
        res->status = PHX_JS_NO_ENTRY;
        set_msg(res, "no entry point: export a default async function (input, ctx), or main()");
        return false;
    }
    if (!produce_output(eng, rv, res)) return false;
    /* Anything still queued after the result was produced is dropped (phx_js_run). */
    res->status = PHX_JS_OK;
    return true;
}

static phx_err_t prepare(phx_js_engine_t *eng, bool test_hooks, bool warm, phx_error_t *e);

extern "C" phx_err_t phx_js_prepare(phx_js_engine_t *eng, bool test_hooks, phx_error_t *e)
{
    return prepare(eng, test_hooks, true, e);
}

extern "C" phx_err_t phx_js_prepare_next(phx_js_engine_t *eng, bool test_hooks, phx_error_t *e)
{
    return prepare(eng, test_hooks, false, e);
}

static phx_err_t prepare(phx_js_engine_t *eng, bool test_hooks, bool warm, phx_error_t *e)
{
    if (eng->ready_global) return PHX_OK;
    JSContext *cx = eng->cx;
    /* Between runs (a warm sandbox): a late abort of the previous run must not
     * fail the trusted warm-up or the next run. */
    eng->abort_reason.store(0);
    phx_js_result_t res;
    memset(&res, 0, sizeof res);
    JS::RootedObject global(cx);
    JS::RootedValue setup(cx);
    if (!build_realm(eng, test_hooks, warm, &global, &setup, &res)) {
        JS_ClearPendingException(cx);
        return phx_fail(e, PHX_ERR_INTERNAL, "preparing a realm: %s", res.message);
    }
    eng->ready_global = new (std::nothrow) JS::PersistentRooted<JSObject *>(cx, global);
    eng->ready_setup = new (std::nothrow) JS::PersistentRooted<JS::Value>(cx, setup);
    if (!eng->ready_global || !eng->ready_setup) {
        delete eng->ready_global;
        delete eng->ready_setup;
        eng->ready_global = nullptr;
        eng->ready_setup = nullptr;
        return phx_fail(e, PHX_ERR_NOMEM, "prepared realm");
    }
    return PHX_OK;
}

extern "C" phx_err_t phx_js_run(phx_js_engine_t *eng, const phx_js_call_t *call,
                                phx_js_result_t *res, phx_error_t *e)
{
    memset(res, 0, sizeof *res);
    if (!call->host) return phx_fail(e, PHX_ERR_INVALID, "no host callback");
    JSContext *cx = eng->cx;
    eng->call = call;
    eng->abort_reason.store(0); /* each run has its own budget (warm sandboxes run several) */
    eng->heap_baseline = JS_GetGCParameter(cx, JSGC_BYTES);
    eng->running = true;

    /* Input and ctx reach the contract as JSON text through setup(), so no object
     * ever crosses between globals. A prepared realm is used once, then dropped. */
    JS::RootedObject global(cx);
    JS::RootedValue setup(cx);
    bool ok = true;
    if (eng->ready_global) {
        global = *eng->ready_global;
        setup = *eng->ready_setup;
        delete eng->ready_global;
        delete eng->ready_setup;
        eng->ready_global = nullptr;
        eng->ready_setup = nullptr;
    } else {
        ok = build_realm(eng, call->test_hooks, false, &global, &setup, res);
    }
    if (ok) {
        JSAutoRealm ar(cx, global);
        (void)run_in_realm(eng, global, setup, call, res);
        if (res->status != PHX_JS_OK) {
            phx_buf_free(&res->output);
            res->output_is_bytes = false;
        }
        eng->jobs->clear();
        JS_ClearPendingException(cx);
    }
    /* WeakRef targets this run kept alive are released (the spec's
     * ClearKeptObjects at the end of a job); nothing of the realm stays rooted. */
    JS::ClearKeptObjects(cx);
    eng->running = false;
    eng->call = nullptr;
    return PHX_OK;
}
