# The trace explorer in a real browser (tests/web/): playwright-core (installed
# into tests/web/node_modules by setup.sh) driving Debian's chromium.
#   WebExplorer.RealDaemon  the page against the real spanvaultd and its /api.
#   WebExplorer.Mock        the same checks against tests/web/mock_api.mjs (a
#                           small JS stand-in of docs/api.md): the page alone.
# Both skip (exit 77) without chromium or node_modules, except with CI=true,
# where that is a failure. Screenshots go to build/test-artifacts/web/.
set(SV_WEB_TEST_DIR ${CMAKE_CURRENT_SOURCE_DIR}/web)
set(SV_WEB_ARTIFACTS ${CMAKE_BINARY_DIR}/test-artifacts/web)
add_test(NAME WebExplorer.RealDaemon
  COMMAND ${SV_WEB_TEST_DIR}/run.sh --daemon $<TARGET_FILE:spanvaultd> --artifacts ${SV_WEB_ARTIFACTS}/daemon)
add_test(NAME WebExplorer.Mock
  COMMAND ${SV_WEB_TEST_DIR}/run.sh --mock --artifacts ${SV_WEB_ARTIFACTS}/mock)
set_tests_properties(WebExplorer.RealDaemon WebExplorer.Mock PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
  RESOURCE_LOCK chromium)
