/* The diagnosis data tables (the diagnose/data tables), compiled in by
 * diagnose/gen_data.sh.  Each is a NULL-terminated array of lines whose
 * columns are separated by spaces; every file's header says what its columns
 * mean and where the facts come from. */
#ifndef PJ_DIAG_DATA_H
#define PJ_DIAG_DATA_H

extern const char *const pj_diag_data_compat_import[];
extern const char *const pj_diag_data_compat_name[];
extern const char *const pj_diag_data_dist_names[];
extern const char *const pj_diag_data_platform_modules[];
extern const char *const pj_diag_data_py2_only[];
extern const char *const pj_diag_data_stdlib_modules[];
extern const char *const pj_diag_data_torch_blocked_modules[];
extern const char *const pj_diag_data_torch_weights_only[];
extern const char *const pj_diag_data_versioned_modules[];

#endif
