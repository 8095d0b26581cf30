# The client libraries' own tests, run by CTest so that ./run-tests.sh runs them:
#   clients/python: python3 -m unittest (unit tests, end to end against the real
#                   spanvaultd, and the package built and installed with
#                   Debian's pip/setuptools, offline);
#   clients/node:   node --test (unit, end to end with the real openai npm
#                   package against a local fake, npm pack + install).
# The end-to-end parts use $SPANVAULTD; they skip without it, except under
# CI=true, where a missing piece is a failure.
set(SV_CLIENTS ${CMAKE_SOURCE_DIR}/clients)
set(SV_CLIENT_ENV "SPANVAULTD=$<TARGET_FILE:spanvaultd>;PYTHONDONTWRITEBYTECODE=1")
add_test(NAME PythonClient.Unit
  COMMAND python3 -m unittest tests.test_core tests.test_nesting tests.test_sender tests.test_wrappers
  WORKING_DIRECTORY ${SV_CLIENTS}/python)
add_test(NAME PythonClient.EndToEnd COMMAND python3 -m unittest tests.test_e2e
  WORKING_DIRECTORY ${SV_CLIENTS}/python)
add_test(NAME PythonClient.Package COMMAND python3 -m unittest tests.test_package
  WORKING_DIRECTORY ${SV_CLIENTS}/python)
add_test(NAME NodeClient.Test COMMAND ${SV_CLIENTS}/node/run-tests.sh
  WORKING_DIRECTORY ${SV_CLIENTS}/node)
set_tests_properties(PythonClient.Unit PythonClient.EndToEnd PythonClient.Package NodeClient.Test
  PROPERTIES ENVIRONMENT "${SV_CLIENT_ENV}" TIMEOUT 600 SKIP_RETURN_CODE 77)
