// Linked into the MPI tests of the sanitizer builds only (cmake/VlmscaleHelpers.cmake): a dlclose()
// that keeps every library loaded. OpenMPI dlopen()s its MCA components and closes them in
// MPI_Finalize; LeakSanitizer then reports their allocations with "<unknown module>" frames that
// no suppression can name. Kept loaded, the frames name the library (libopen-pal.so,
// mca_pml_ob1.so, ...) and tests/sanitize/lsan.supp can suppress exactly those.
extern "C" int dlclose(void*) { return 0; }
