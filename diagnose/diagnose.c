/* Load-failure diagnosis: entry point, file triage and per-stream rules.
 * Pure: reads only the report; the target-environment look-ups live in
 * diag_fs.c and are reached through diag_globals.c. */
#include "diag.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const outcome_names[] = {"will fail", "may fail", "warning", "note"};

/* Diagnosis findings per file: below the report's LOAD reserve, leaving room
 * for the closing "omitted" note. */
#define DIAG_MAX_FINDINGS (PJ_LOAD_FINDINGS_RESERVE - 4)

static size_t load_count(const pj_report *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_findings; i++)
        n += r->findings[i].cls == PJ_CLASS_LOAD;
    return n;
}

void pj_diag_emit(pj_report *r, pj_code code, diag_outcome o, int32_t stream, uint64_t offset,
                  const char *fmt, ...)
{
    if (load_count(r) >= DIAG_MAX_FINDINGS)
        return;
    char body[480];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    pj_report_add_finding(r, code, o <= DIAG_MAY ? PJ_SEV_SUSPICIOUS : PJ_SEV_INFO, stream, offset,
                          "%s: %s", outcome_names[o], body);
}

void pj_diag_fmt(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

/* ---- helpers over the report ------------------------------------------ */

static bool fmt_is(const pj_report *r, const char *f)
{
    return r->format != NULL && strcmp(r->format, f) == 0;
}

static bool fmt_is_torch(const pj_report *r)
{
    return r->format != NULL && strncmp(r->format, "torch", 5) == 0;
}

static const char *stream_meta(const pj_report *r, size_t s, const char *key)
{
    char k[96];
    pj_diag_fmt(k, sizeof k, "stream.%zu.%s", s, key);
    return pj_report_get_meta(r, k);
}

static uint64_t meta_u64(const char *v, uint64_t dflt)
{
    if (v == NULL || *v < '0' || *v > '9')
        return dflt;
    return strtoull(v, NULL, 0);
}

/* CPython's text for an invalid opcode byte (Modules/_pickle.c load()). */
static void invalid_load_key(uint8_t c, char *out, size_t len)
{
    if (c >= 0x20 && c <= 0x7e && c != '\'' && c != '\\')
        pj_diag_fmt(out, len, "_pickle.UnpicklingError: invalid load key, '%c'.", c);
    else
        pj_diag_fmt(out, len, "_pickle.UnpicklingError: invalid load key, '\\x%02x'.", c);
}

#define PERSID_MSG                                                                             \
    "_pickle.UnpicklingError: A load persistent id instruction was encountered, but no "      \
    "persistent_load function was specified."

/* What pickle.load says about a file from its first bytes: walk the few
 * opcodes that only push (as the C unpickler would) until one fails. */
static bool predict_from_head(const uint8_t *h, size_t n, char *out, size_t len)
{
    size_t i = 0, depth = 0;
    while (i < n) {
        uint8_t b = h[i];
        if (pj_opcode_name(b) == NULL) {
            invalid_load_key(b, out, len);
            return true;
        }
        switch (b) {
        case 0x80: /* PROTO */
            if (i + 1 >= n)
                return false;
            if (h[i + 1] > 5) {
                pj_diag_fmt(out, len, "ValueError: unsupported pickle protocol: %u", h[i + 1]);
                return true;
            }
            i += 2;
            continue;
        case 'K': i += 2; depth++; continue;
        case 'M': i += 3; depth++; continue;
        case 'J': i += 5; depth++; continue;
        case 'G': i += 9; depth++; continue;
        case 'N': case ')': case ']': case '}': case 0x88: case 0x89: case 0x8f:
            i += 1; depth++; continue;
        case '(':
            i += 1;
            continue;
        case 'P':
            pj_diag_fmt(out, len, "%s", PERSID_MSG);
            return true;
        case 'B': case 'T': case 0x8e: case 0x96:
            /* A length taken from non-pickle bytes is (almost always) past the end. */
            pj_diag_fmt(out, len, "_pickle.UnpicklingError: pickle data was truncated");
            return true;
        case 0x93: case 'R': case 0x81: case 'b': case 's': case 'a':
            if (depth < 2) {
                pj_diag_fmt(out, len, "_pickle.UnpicklingError: unpickling stack underflow");
                return true;
            }
            return false;
        default:
            return false;
        }
    }
    return false;
}

static size_t unhex(const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (hex != NULL && hex[0] && hex[1] && n < cap) {
        unsigned v;
        if (sscanf(hex, "%2x", &v) != 1)
            break;
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

/* The exception plain pickle.load raises on this file, from file.head or a
 * per-format fallback (first bytes are fixed for these formats). */
static void pickle_load_error(const pj_report *r, char *out, size_t len)
{
    uint8_t head[32];
    size_t n = unhex(pj_report_get_meta(r, "file.head"), head, sizeof head);
    if (n > 0 && predict_from_head(head, n, out, len))
        return;
    static const struct {
        const char *fmt;
        const char *head;
    } fixed[] = {
        {"lfs-pointer", "v"}, {"html", "<"}, {"joblib-zlib", "x"}, {"zlib", "x"},
        {"gzip", "\x1f\x8b"}, {"xz", "\xfd" "7zXZ"}, {"bz2", "BZh"}, {"zstd", "(\xb5/\xfd"},
        {"7z", "7z"}, {"npy", "\x93NUMPY"}, {"torch-zip", "PK"}, {"torchscript", "PK"},
        {"npz", "PK"}, {"zip", "PK"},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (fmt_is(r, fixed[i].fmt) &&
            predict_from_head((const uint8_t *)fixed[i].head, strlen(fixed[i].head), out, len))
            return;
    pj_diag_fmt(out, len, "_pickle.UnpicklingError: invalid load key (the file is not a pickle)");
}

/* ---- file triage ------------------------------------------------------ */

static void triage(const diag_target *t, pj_report *r)
{
    (void)t;
    char err[160];
    const char *f = r->format ? r->format : "";

    if (fmt_is(r, "empty") || pj_report_has_code(r, PJ_EMPTY_FILE)) {
        pj_diag_emit(r, PJ_LOAD_NOT_PICKLE, DIAG_WILL, -1, 0,
                     "EOFError: Ran out of input | why: the file is empty (an interrupted "
                     "download or write) | fix: download or save the file again");
        return;
    }
    if (fmt_is(r, "lfs-pointer")) {
        pickle_load_error(r, err, sizeof err);
        const char *size = pj_report_get_meta(r, "lfs.size");
        pj_diag_emit(r, PJ_LOAD_NOT_PICKLE, DIAG_WILL, -1, 0,
                     "%s | why: this is a Git LFS pointer (a small text file naming the real "
                     "object%s%s%s), not the model: the weights were never downloaded | fix: "
                     "run 'git lfs pull' (or download the file itself, not its pointer)",
                     err, size ? ", " : "", size ? size : "", size ? " bytes" : "");
        return;
    }
    if (fmt_is(r, "html")) {
        pickle_load_error(r, err, sizeof err);
        pj_diag_emit(r, PJ_LOAD_NOT_PICKLE, DIAG_WILL, -1, 0,
                     "%s | why: the file is an HTML page (an error, login or download-quota "
                     "page saved instead of the model) | fix: download the file again from a "
                     "direct link and check its size",
                     err);
        return;
    }
    if (fmt_is(r, "safetensors") || fmt_is(r, "gguf")) {
        pickle_load_error(r, err, sizeof err);
        bool st = fmt_is(r, "safetensors");
        pj_diag_emit(r, PJ_LOAD_NOT_PICKLE, DIAG_WILL, -1, 0,
                     "%s (with torch.load or pickle.load) | why: this is a %s file, not a pickle | "
                     "fix: %s",
                     err, st ? "safetensors" : "GGUF",
                     st ? "load it with safetensors (safetensors.torch.load_file)"
                        : "load it with llama.cpp or the gguf package");
        return;
    }

    /* Truncated containers. */
    if (pj_report_has_code(r, PJ_ZIP_TRUNCATED)) {
        bool torch = fmt_is_torch(r) || fmt_is(r, "zip");
        pj_diag_emit(r, PJ_LOAD_TRUNCATED, DIAG_WILL, -1, 0,
                     "%s | why: the zip archive has no end-of-central-directory record: the file "
                     "was cut short (interrupted download or copy) | fix: download or copy the "
                     "file again and compare its size with the original",
                     torch ? "RuntimeError: PytorchStreamReader failed reading zip archive: failed "
                             "finding central directory"
                           : "zipfile.BadZipFile: File is not a zip file");
    }
    const char *missing = pj_report_get_meta(r, "torch.legacy.missing");
    if (fmt_is(r, "torch-legacy") && (missing != NULL || pj_report_has_code(r, PJ_TORCH_LEGACY_MALFORMED))) {
        char what[64] = "";
        if (missing != NULL)
            pj_diag_fmt(what, sizeof what, ", expected %s more bytes", missing);
        pj_diag_emit(r, PJ_LOAD_TRUNCATED, DIAG_WILL, -1, 0,
                     "RuntimeError: unexpected EOF%s. The file might be corrupted. | why: the "
                     "legacy PyTorch file ends before all tensor storage data | fix: download or "
                     "copy the file again",
                     what);
    }

    /* Files that load only through their own loader. */
    static const struct {
        const char *fmt;
        const char *loader;
        const char *what;
    } wrong[] = {
        {"torch-zip", "torch.load", "a PyTorch zip checkpoint"},
        {"torchscript", "torch.jit.load", "a TorchScript archive"},
        {"joblib-zlib", "joblib.load", "a zlib-compressed joblib file"},
        {"zlib", "joblib.load (or zlib.decompress first)", "zlib-compressed"},
        {"gzip", "joblib.load or gzip.open", "gzip-compressed"},
        {"bz2", "joblib.load or bz2.open", "bz2-compressed"},
        {"xz", "joblib.load or lzma.open", "xz-compressed"},
        {"zstd", "joblib.load (or zstandard) ", "zstd-compressed"},
        {"npy", "numpy.load(..., allow_pickle=True)", "a NumPy .npy file"},
        {"npz", "numpy.load(..., allow_pickle=True)", "a NumPy .npz archive"},
        {"joblib", "joblib.load", "a joblib file (raw array bytes follow the pickle opcodes)"},
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        if (strcmp(f, wrong[i].fmt) != 0)
            continue;
        if (strcmp(f, "joblib") == 0)
            pj_diag_fmt(err, sizeof err, "an UnpicklingError or wrong arrays");
        else
            pickle_load_error(r, err, sizeof err);
        pj_diag_emit(r, PJ_LOAD_WRONG_LOADER, DIAG_NOTE, -1, 0,
                     "pickle.load on this file raises %s | why: it is %s, not a plain pickle | "
                     "fix: load it with %s",
                     err, wrong[i].what, wrong[i].loader);
    }

    /* Anything else that is not a pickle at all. */
    if (r->n_streams == 0 && (pj_report_has_code(r, PJ_UNKNOWN_FORMAT) ||
                              pj_report_has_code(r, PJ_NOT_A_MODEL) ||
                              pj_report_has_code(r, PJ_NO_PICKLE))) {
        pickle_load_error(r, err, sizeof err);
        pj_diag_emit(r, PJ_LOAD_NOT_PICKLE, DIAG_WILL, -1, 0,
                     "%s | why: no pickle data was found in the file (format: %s) | fix: check that "
                     "this is the model file you meant to download",
                     err, f[0] ? f : "unknown");
    }
}

/* ---- per-stream rules ------------------------------------------------- */

/* Exception type CPython raises for the VM's parse-error findings. */
static const char *parse_error_type(pj_code c)
{
    switch (c) {
    case PJ_PROTO_UNSUPPORTED: return "ValueError";
    case PJ_TRUNCATED: case PJ_UNKNOWN_OPCODE: case PJ_STACK_UNDERFLOW: case PJ_MARK_MISSING:
    case PJ_MEMO_MISSING: case PJ_BAD_LENGTH: case PJ_BAD_OPERAND_TYPE: case PJ_UNEXPECTED_MARK:
    case PJ_ODD_ITEMS:
        return "_pickle.UnpicklingError";
    case PJ_BAD_ENCODING: return "UnicodeDecodeError";
    case PJ_BAD_LITERAL: case PJ_BAD_MEMO_KEY: return "ValueError";
    default: return NULL;
    }
}

/* Streams a loader actually reads: the first at each location (others were
 * found after STOP or after resynchronising), and every legacy torch pickle. */
static bool stream_is_loaded(const pj_report *r, size_t s)
{
    if (fmt_is(r, "torch-legacy"))
        return true;
    const char *loc = r->streams[s].location;
    if (loc != NULL && fmt_is(r, "torch-zip")) {
        /* torch.load reads only <prefix>/data.pkl of the archive. */
        size_t n = strlen(loc);
        return n == 0 || (n >= 8 && strcmp(loc + n - 8, "data.pkl") == 0);
    }
    return loc == NULL || strchr(loc, '#') == NULL;
}

static int opcode_proto_floor_minor(int proto)
{
    /* Python 3.<minor> that first reads a protocol: 3 -> 3.0, 4 -> 3.4, 5 -> 3.8. */
    return proto >= 5 ? 8 : proto == 4 ? 4 : proto == 3 ? 0 : -1;
}

static int opcode_byte(const char *name)
{
    for (int b = 0; b < 256 && name != NULL; b++) {
        const char *n = pj_opcode_name((uint8_t)b);
        if (n != NULL && strcmp(n, name) == 0)
            return b;
    }
    return -1;
}

/* Device named in a BINPERSID call's argument summary ("'cuda:0'"), if any. */
static bool device_in_args(const char *args, char *dev, size_t len)
{
    static const char *const devs[] = {"'cuda", "'mps", "'hpu", "'xla", "'xpu", "'meta"};
    for (size_t i = 0; args != NULL && i < sizeof devs / sizeof devs[0]; i++) {
        const char *p = strstr(args, devs[i]);
        if (p != NULL) {
            size_t n = strcspn(p + 1, "'");
            pj_diag_fmt(dev, len, "%.*s", (int)n, p + 1);
            return true;
        }
    }
    return false;
}

static void stream_rules(const diag_target *t, pj_report *r)
{
    const size_t nf0 = r->n_findings;
    bool persid_plain = !fmt_is_torch(r) && !fmt_is(r, "torchscript");
    bool device_done = false;
    int floor_minor = -1, floor_proto = -1;
    int32_t floor_stream = -1;
    uint64_t floor_off = 0;

    for (size_t s = 0; s < r->n_streams; s++) {
        pj_stream st = r->streams[s];
        if (!stream_is_loaded(r, s))
            continue;

        /* The first parse error the VM found: the load stops there. */
        for (size_t i = 0; i < nf0; i++) {
            pj_finding f = r->findings[i];
            const char *type = parse_error_type(f.code);
            if (f.stream != (int32_t)s || type == NULL)
                continue;
            const char *msg = f.message ? f.message : "";
            /* Refine the type where CPython's differs by case (Modules/_pickle.c):
             * EOF when reading an opcode byte is EOFError; a huge length is
             * allocated before reading (MemoryError); STRING quoting errors
             * are UnpicklingErrors. */
            unsigned long long need = 0;
            const char *np = strstr(msg, "needs ");
            if (np == NULL)
                np = strstr(msg, "frame of ");
            if (np != NULL)
                need = strtoull(np + (np[0] == 'n' ? 6 : 9), NULL, 10);
            if (f.code == PJ_TRUNCATED && need >= (1ull << 36)) {
                pj_diag_emit(r, PJ_LOAD_STREAM_ERROR, DIAG_WILL, f.stream, f.offset,
                             "MemoryError (or _pickle.UnpicklingError: pickle data was truncated) | "
                             "why: an opcode at offset %llu declares %llu bytes, which the "
                             "unpickler allocates before reading (%s) | fix: the file is damaged or "
                             "hostile; obtain it again",
                             (unsigned long long)f.offset, need, pj_code_id(f.code));
                break;
            }
            if (f.code == PJ_TRUNCATED && strstr(msg, "(opcode at offset") != NULL) {
                pj_diag_emit(r, PJ_LOAD_STREAM_ERROR, DIAG_WILL, f.stream, f.offset,
                             "EOFError: Ran out of input | why: the pickle stream ends at offset "
                             "%llu without a STOP opcode: the file was cut short (%s) | fix: obtain "
                             "the complete file again",
                             (unsigned long long)f.offset, pj_code_id(f.code));
                break;
            }
            if (strstr(msg, "CPython's unpickler allocates") != NULL) {
                /* A far memo key makes CPython grow its memo array to twice the
                 * key (8-byte slots): harmless for small keys, MemoryError once
                 * that is gigabytes (2^28 keys = 4 GiB). */
                const char *kp = strstr(msg, "memo key ");
                if (kp == NULL || strtoull(kp + 9, NULL, 10) < (1ull << 28))
                    continue;
                type = "MemoryError";
            }
            else if (strncmp(msg, "the STRING opcode", 17) == 0)
                type = "_pickle.UnpicklingError";
            else if (f.code == PJ_BAD_OPERAND_TYPE && strstr(msg, "(SETITEM") != NULL)
                type = "TypeError"; /* PyObject_SetItem on a non-dict */
            else if (f.code == PJ_BAD_OPERAND_TYPE && strstr(msg, "(APPEND") != NULL)
                type = "AttributeError"; /* looks up .append / .extend */
            if (f.code == PJ_TRUNCATED && st.length == 0)
                pj_diag_emit(r, PJ_LOAD_STREAM_ERROR, DIAG_WILL, f.stream, f.offset,
                             "EOFError: Ran out of input | why: the pickle stream is empty | fix: "
                             "the file is damaged; obtain it again");
            else
                pj_diag_emit(r, PJ_LOAD_STREAM_ERROR, DIAG_WILL, f.stream, f.offset,
                             "%s: %s | why: the pickle stream is malformed at offset %llu "
                             "(%s) | fix: the file is damaged or was not written by pickle; obtain "
                             "it again",
                             strncmp(msg, type, strlen(type)) == 0 ? "" : type, msg,
                             (unsigned long long)f.offset, pj_code_id(f.code));
            break;
        }

        /* Python 2 str values with non-ASCII bytes. */
        const char *n2 = stream_meta(r, s, "py2_strings");
        if (meta_u64(n2, 0) > 0) {
            const char *bv = stream_meta(r, s, "py2_string_byte");
            const char *pos = stream_meta(r, s, "py2_string_pos");
            uint64_t off = meta_u64(stream_meta(r, s, "py2_string_offset"), st.offset);
            bool torch = fmt_is_torch(r);
            bool numpy = fmt_is(r, "npy") || fmt_is(r, "npz");
            char detail[96] = "";
            if (bv != NULL && pos != NULL)
                pj_diag_fmt(detail, sizeof detail, " byte %s in position %s", bv, pos);
            if (torch)
                pj_diag_emit(r, PJ_LOAD_PY2_STRINGS, DIAG_MAY, (int32_t)s, off,
                             "UnicodeDecodeError: 'utf-8' codec can't decode%s (when the bytes are "
                             "not UTF-8) | why: %s Python 2 str values with non-ASCII bytes; "
                             "torch.load decodes them as UTF-8 | fix: torch.load(f, "
                             "encoding='latin1')",
                             detail[0] ? detail : " byte", n2);
            else
                pj_diag_emit(r, PJ_LOAD_PY2_STRINGS, DIAG_WILL, (int32_t)s, off,
                             "UnicodeDecodeError: 'ascii' codec can't decode%s: ordinal not in "
                             "range(128) | why: written by Python 2: %s str values hold non-ASCII "
                             "bytes (numpy arrays, datetimes, latin-1 text) and Python 3 decodes "
                             "them as ASCII | fix: %s(f, encoding='latin1') ('bytes' keeps them as "
                             "bytes)",
                             detail[0] ? detail : " byte", n2,
                             numpy ? "numpy.load(..., allow_pickle=True, encoding='latin1'); or "
                                     "pickle.load"
                                   : "pickle.load");
        }

        /* Storages saved on an accelerator. */
        const char *locs = stream_meta(r, s, "storage_locations");
        char dev[64] = "";
        uint64_t dev_off = meta_u64(stream_meta(r, s, "storage_device_offset"), st.offset);
        if (locs != NULL) {
            char tmp[256];
            pj_diag_fmt(tmp, sizeof tmp, "%s", locs);
            for (char *tok = strtok(tmp, ","); tok != NULL; tok = strtok(NULL, ","))
                if (strcmp(tok, "cpu") != 0 && dev[0] == '\0')
                    pj_diag_fmt(dev, sizeof dev, "%s", tok);
        }
        for (size_t c = 0; dev[0] == '\0' && c < r->n_calls; c++)
            if (r->calls[c].stream == (int32_t)s &&
                (r->calls[c].opcode == 'Q' || r->calls[c].opcode == 'P') &&
                device_in_args(r->calls[c].args, dev, sizeof dev))
                dev_off = r->calls[c].offset;
        /* The VM quotes persistent ids it does not recognise as storages in PJ122. */
        for (size_t i = 0; dev[0] == '\0' && i < nf0; i++)
            if (r->findings[i].code == PJ_PERSISTENT_ID && r->findings[i].stream == (int32_t)s &&
                strstr(r->findings[i].message, "('storage'") != NULL &&
                device_in_args(r->findings[i].message, dev, sizeof dev))
                dev_off = r->findings[i].offset;
        if (dev[0] != '\0' && !device_done) {
            device_done = true;
            bool cuda = strncmp(dev, "cuda", 4) == 0;
            char all[160] = "";
            if (locs != NULL)
                pj_diag_fmt(all, sizeof all, " (all: %.140s)", locs);
            pj_diag_emit(r, PJ_LOAD_TORCH_DEVICE, DIAG_MAY, (int32_t)s, dev_off,
                         "%s | why: tensors were saved on '%s'%s; a machine without that device "
                         "cannot place them | fix: torch.load(f, map_location='cpu')",
                         cuda ? "RuntimeError: Attempting to deserialize object on a CUDA device "
                                "but torch.cuda.is_available() is False. If you are running on a "
                                "CPU-only machine, please use torch.load with "
                                "map_location=torch.device('cpu') to map your storages to the CPU."
                              : "RuntimeError: the storage device is not available",
                         dev, all);
        }

        /* Persistent ids in a file meant for plain pickle.load. */
        if (persid_plain) {
            uint64_t cnt = meta_u64(stream_meta(r, s, "persid_count"), 0);
            uint64_t off = meta_u64(stream_meta(r, s, "persid_offset"), UINT64_MAX);
            bool storage = locs != NULL;
            for (size_t i = 0; i < nf0; i++)
                if (r->findings[i].code == PJ_PERSISTENT_ID && r->findings[i].stream == (int32_t)s) {
                    cnt++;
                    if (r->findings[i].offset < off)
                        off = r->findings[i].offset;
                }
            for (size_t c = 0; c < r->n_calls; c++)
                if (r->calls[c].stream == (int32_t)s &&
                    (r->calls[c].opcode == 'Q' || r->calls[c].opcode == 'P')) {
                    cnt++;
                    if (r->calls[c].offset < off)
                        off = r->calls[c].offset;
                    if (r->calls[c].args && strstr(r->calls[c].args, "'storage'"))
                        storage = true;
                }
            if (cnt > 0)
                pj_diag_emit(r, PJ_LOAD_PERSISTENT_ID, DIAG_WILL, (int32_t)s,
                             off == UINT64_MAX ? st.offset : off,
                             "%s | why: %s | fix: %s", PERSID_MSG,
                             storage ? "this is the data.pkl of a PyTorch checkpoint: the tensors "
                                       "live in the archive's data/ records"
                                     : "the writer used a Pickler with persistent_id(); only its "
                                       "matching Unpickler.persistent_load can resolve the ids",
                             storage ? "torch.load the whole .pt archive, not the extracted data.pkl"
                                     : "load it with the program that wrote it");
        }

        /* Out-of-band buffers (protocol 5 NEXT_BUFFER). */
        for (size_t i = 0; i < nf0; i++) {
            pj_finding f = r->findings[i];
            if (f.code != PJ_OUT_OF_BAND_BUFFER || f.stream != (int32_t)s)
                continue;
            pj_diag_emit(r, PJ_LOAD_OUT_OF_BAND, DIAG_WILL, f.stream, f.offset,
                         "_pickle.UnpicklingError: pickle stream refers to out-of-band data but no "
                         "*buffers* argument was given | why: it was written with protocol 5 and a "
                         "buffer_callback: the array data is not in the file | fix: pass the same "
                         "buffers to pickle.loads(data, buffers=...), or re-save without "
                         "buffer_callback");
            break;
        }

        /* Extension registry codes. */
        for (size_t i = 0; i < nf0; i++) {
            pj_finding f = r->findings[i];
            if (f.code != PJ_EXT_OPCODE || f.stream != (int32_t)s)
                continue;
            const char *code = stream_meta(r, s, "ext_code");
            char num[24] = "";
            if (code != NULL) {
                pj_diag_fmt(num, sizeof num, " %s", code);
            } else if (f.message != NULL) {
                const char *p = strstr(f.message, "code ");
                if (p != NULL && p[5] >= '0' && p[5] <= '9')
                    pj_diag_fmt(num, sizeof num, " %llu", (unsigned long long)strtoull(p + 5, NULL, 10));
            }
            pj_diag_emit(r, PJ_LOAD_EXT_CODE, DIAG_WILL, f.stream, f.offset,
                         "ValueError: unregistered extension code%s | why: EXT1/EXT2/EXT4 name an "
                         "entry of copyreg's extension registry, which is empty unless the loading "
                         "program calls copyreg.add_extension | fix: register the same codes before "
                         "loading (unusual for a model file: treat it with suspicion)",
                         num);
            break;
        }

        /* Minimum Python version from the protocol and the opcodes used. */
        int proto = st.protocol;
        int op_proto = (int)meta_u64(stream_meta(r, s, "max_opcode_proto"), 0);
        int need = opcode_proto_floor_minor(proto > op_proto ? proto : op_proto);
        if (need > floor_minor) {
            floor_minor = need;
            floor_proto = proto > op_proto ? proto : op_proto;
            floor_stream = (int32_t)s;
            floor_off = proto >= op_proto ? st.offset
                                          : meta_u64(stream_meta(r, s, "max_opcode_offset"), st.offset);
        }
        if (t->py_minor >= 0 && need > t->py_minor) {
            char err[96];
            if (proto >= op_proto) {
                pj_diag_fmt(err, sizeof err, "ValueError: unsupported pickle protocol: %d", proto);
            } else {
                int b = opcode_byte(stream_meta(r, s, "max_opcode"));
                if (b >= 0)
                    invalid_load_key((uint8_t)b, err, sizeof err);
                else
                    pj_diag_fmt(err, sizeof err, "_pickle.UnpicklingError: invalid load key");
            }
            pj_diag_emit(r, PJ_LOAD_PYTHON_VERSION, DIAG_WILL, (int32_t)s, floor_off,
                         "%s | why: protocol %d needs Python >= 3.%d; the target is Python 3.%d | "
                         "fix: load it with Python 3.%d or newer",
                         err, floor_proto, need, t->py_minor, need);
        }
    }
    if (floor_minor >= 0 && !(t->py_minor >= 0 && floor_minor > t->py_minor))
        pj_diag_emit(r, PJ_LOAD_PYTHON_VERSION, DIAG_NOTE, floor_stream, floor_off,
                     "needs Python >= 3.%d (pickle protocol %d) | why: older Pythons raise "
                     "'unsupported pickle protocol' | fix: nothing to do on Python 3.%d or newer",
                     floor_minor, floor_proto, floor_minor);
}

/* When the scan stopped at a limit, the diagnosis saw only part of the file. */
static void incomplete(pj_report *r)
{
    static const pj_code limits[] = {PJ_LIMIT_OPCODES, PJ_LIMIT_STACK, PJ_LIMIT_MEMO,
                                     PJ_LIMIT_NESTING, PJ_LIMIT_ARENA, PJ_LIMIT_INPUT,
                                     PJ_SANDBOX_TIMEOUT, PJ_SANDBOX_OOM, PJ_SANDBOX_CPU};
    for (size_t i = 0; i < sizeof limits / sizeof limits[0]; i++)
        if (pj_report_has_code(r, limits[i])) {
            pj_diag_emit(r, PJ_LOAD_INCOMPLETE, DIAG_NOTE, -1, 0,
                         "the scan stopped early (%s): the diagnosis covers only what was scanned | "
                         "why: a scanner limit was reached | fix: raise the limit to diagnose the "
                         "whole file",
                         pj_code_id(limits[i]));
            return;
        }
}

void pj_diagnose_apply(const pj_diag_env *env, pj_report *r)
{
    if (r == NULL)
        return;
    /* Idempotent: a report is diagnosed once. */
    for (size_t i = 0; i < r->n_findings; i++)
        if (r->findings[i].cls == PJ_CLASS_LOAD)
            return;
    static const pj_diag_env none = {NULL, NULL, 0};
    diag_target t;
    t.env = env ? env : &none;
    t.py_minor = pj_diag_py_minor(t.env->python_version);
    t.have_site = t.env->n_site_packages > 0 && t.env->site_packages != NULL;
    t.cache = t.have_site ? pj_diag_fs_cache_new() : NULL;

    triage(&t, r);
    stream_rules(&t, r);
    pj_diag_globals(&t, r);
    incomplete(r);
    if (pj_diag_fs_budget_spent(&t))
        pj_diag_emit(r, PJ_LOAD_INCOMPLETE, DIAG_NOTE, -1, 0,
                     "the file names more modules than are looked up on disk; the rest were not "
                     "checked | why: the look-up work per file is bounded | fix: check the "
                     "remaining modules by hand");
    pj_diag_fs_cache_free(t.cache);
    if (load_count(r) >= DIAG_MAX_FINDINGS)
        pj_report_add_finding(r, PJ_LOAD_INCOMPLETE, PJ_SEV_INFO, -1, 0,
                              "note: further load findings were omitted | why: at most %d are "
                              "reported per file | fix: fix the ones shown first",
                              DIAG_MAX_FINDINGS);
}
