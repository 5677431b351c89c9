/* The test suites, one per module: SUITE(name) declares `Suite *name_suite(void)` in
 * tests/test_<name>.c. Add a line when adding a tests/test_<module>.c. */
SUITE(units)
SUITE(config)
SUITE(httpc)
SUITE(check)
SUITE(cli)
SUITE(sched)
SUITE(rrdw)
SUITE(daemon)
SUITE(rrdq)
SUITE(graph)
