/* The fault suites (`make faults`, VIGIE_TESTS=faults): SUITE(name) declares
 * `Suite *name_suite(void)` in tests/test_<name>.c. Not part of `make test`. */
SUITE(faults_alert)
SUITE(faults_net)
SUITE(faults_proc)
SUITE(faults_overload)
