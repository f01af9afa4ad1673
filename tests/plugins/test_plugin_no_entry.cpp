// A valid shared library that is not an isens plugin: no entry point.
extern "C" int isens_test_not_a_plugin() { return 42; }
