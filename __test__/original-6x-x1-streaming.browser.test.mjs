// http2-duplex 6.0.3's own suite against this package (__test__/original-6x/run.mjs).
import { original_suite_test } from './original-6x/suite-test.mjs';

original_suite_test(1, 'streaming');
