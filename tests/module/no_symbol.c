/* Test module: a valid shared object that is not a handler (no turbine_handler symbol). */
__attribute__((visibility("default"))) int
no_symbol_answer(void)
{
	return 42;
}
