/*
 * chart_test.c: the reports' bar chart: one <g class="bar"> per category and one rect per
 * non-zero value, stacked and grouped geometry, highlighted bars, the accessible title and
 * description, escaping of every label, and each invalid argument refused with its code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chart.h"

static const char *const cats3[] = { "2025-03-10", "2025-03-11", "2025-03-12" };
static const char *const ser2[] = { "web", "app" };

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void
base(saksi_chart *c, const double *v)
{
	memset(c, 0, sizeof(*c));
	c->ch_id = "chart-x";
	c->ch_title = "Events per day";
	c->ch_desc = "Stacked bars.";
	c->ch_xlabel = "day";
	c->ch_ylabel = "events (count)";
	c->ch_cats = cats3;
	c->ch_ncats = 3;
	c->ch_series = ser2;
	c->ch_nseries = 2;
	c->ch_values = v;
	c->ch_stacked = 1;
}

/* The chart as a string; the return code in *e. */
static char *
draw(const saksi_chart *c, saksi_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	*e = saksi_chart_bars(f, c);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void
test_marks(void **state)
{
	/* Day 2 has nothing: its bar is there, empty. */
	const double v[] = { 3, 4, 0, 0, 5, 0 };
	saksi_chart c;
	saksi_err e;
	char *s;

	(void)state;
	base(&c, v);
	s = draw(&c, &e);
	assert_int_equal(e, SAKSI_OK);
	assert_true(strncmp(s, "<svg class=\"chart\" id=\"chart-x\"", 31) == 0);
	assert_non_null(strstr(s, "role=\"img\" aria-labelledby=\"chart-x-title chart-x-desc\""));
	assert_non_null(strstr(s, "<title id=\"chart-x-title\">Events per day</title>"));
	assert_non_null(strstr(s, "<desc id=\"chart-x-desc\">Stacked bars.</desc>"));
	assert_int_equal(count(s, "<g class=\"bar\""), 3);
	assert_int_equal(count(s, "<rect class=\"seg\""), 3);
	assert_non_null(strstr(s, "data-cat=\"2025-03-11\"></g>"));
	assert_non_null(strstr(s, "<title>2025-03-10, app: 4</title>"));
	assert_non_null(strstr(s, ">events (count)</text>"));
	assert_non_null(strstr(s, ">day</text>"));
	/* Two series: a legend with both. */
	assert_int_equal(count(s, "class=\"legend-item\""), 2);
	/* Max 7: ticks of 2 up to 8. */
	assert_non_null(strstr(s, ">8</text>"));
	assert_null(strstr(s, ">10</text>"));
	assert_true(strstr(s, "</svg>\n") != NULL && s[strlen(s) - 1] == '\n');
	/* Nothing from elsewhere. */
	assert_null(strstr(s, "href"));
	assert_null(strstr(s, "<script"));
	free(s);
}

/* Stacked: the second segment sits on the first; grouped: side by side, same base. */
static void
test_geometry(void **state)
{
	const double v[] = { 2, 2, 0, 0, 0, 0 };
	saksi_chart c;
	saksi_err e;
	char *s, *r1, *r2;
	double x1, y1, w1, h1, x2, y2, w2, h2;

	(void)state;
	base(&c, v);
	s = draw(&c, &e);
	assert_int_equal(e, SAKSI_OK);
	r1 = strstr(s, "<rect class=\"seg\"");
	r2 = strstr(r1 + 1, "<rect class=\"seg\"");
	assert_int_equal(sscanf(r1, "<rect class=\"seg\" x=\"%lf\" y=\"%lf\" width=\"%lf\" "
	    "height=\"%lf\"", &x1, &y1, &w1, &h1), 4);
	assert_int_equal(sscanf(r2, "<rect class=\"seg\" x=\"%lf\" y=\"%lf\" width=\"%lf\" "
	    "height=\"%lf\"", &x2, &y2, &w2, &h2), 4);
	assert_true(fabs(x1 - x2) < 0.01 && fabs(w1 - w2) < 0.01);
	assert_true(fabs(h1 - h2) < 0.01);
	assert_true(fabs(y2 + h2 - y1) < 0.02);   /* on top of the first */
	free(s);

	c.ch_stacked = 0;
	s = draw(&c, &e);
	assert_int_equal(e, SAKSI_OK);
	r1 = strstr(s, "<rect class=\"seg\"");
	r2 = strstr(r1 + 1, "<rect class=\"seg\"");
	assert_int_equal(sscanf(r1, "<rect class=\"seg\" x=\"%lf\" y=\"%lf\" width=\"%lf\" "
	    "height=\"%lf\"", &x1, &y1, &w1, &h1), 4);
	assert_int_equal(sscanf(r2, "<rect class=\"seg\" x=\"%lf\" y=\"%lf\" width=\"%lf\" "
	    "height=\"%lf\"", &x2, &y2, &w2, &h2), 4);
	assert_true(fabs(x1 + w1 - x2) < 0.02);   /* beside it */
	assert_true(fabs(y1 - y2) < 0.01);
	free(s);
}

static void
test_mark_and_escape(void **state)
{
	static const char *const cats[] = { "1", "2", "<b>&\"'" };
	static const char *const one[] = { "count" };
	const double v[] = { 10, 4, 9 };
	const unsigned char mark[] = { 0, 0, 1 };
	saksi_chart c;
	saksi_err e;
	char *s;

	(void)state;
	base(&c, v);
	c.ch_cats = cats;
	c.ch_series = one;
	c.ch_nseries = 1;
	c.ch_title = "A & B <x>";
	c.ch_mark = mark;
	c.ch_mark_label = "long tail";
	s = draw(&c, &e);
	assert_int_equal(e, SAKSI_OK);
	assert_int_equal(count(s, "<g class=\"bar tail\""), 1);
	assert_int_equal(count(s, "<g class=\"bar\""), 2);
	assert_non_null(strstr(s, "data-cat=\"&lt;b&gt;&amp;&quot;&#39;\""));
	assert_non_null(strstr(s, "A &amp; B &lt;x&gt;"));
	assert_null(strstr(s, "<b>"));
	/* One series: the legend shows only the highlight. */
	assert_int_equal(count(s, "class=\"legend-item\""), 1);
	assert_non_null(strstr(s, ">long tail</text>"));
	free(s);

	/* A control character is never passed through. */
	{
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		saksi_html_escape(f, "a\x01" "b\tc\x7f");
		fclose(f);
		assert_string_equal(buf, "a\xef\xbf\xbd" "b\tc\xef\xbf\xbd");
		free(buf);
	}
}

static void
test_all_zero(void **state)
{
	const double v[] = { 0, 0, 0, 0, 0, 0 };
	saksi_chart c;
	saksi_err e;
	char *s;

	(void)state;
	base(&c, v);
	s = draw(&c, &e);
	assert_int_equal(e, SAKSI_OK);
	assert_int_equal(count(s, "<g class=\"bar\""), 3);
	assert_int_equal(count(s, "<rect class=\"seg\""), 0);
	assert_null(strstr(s, "nan"));
	free(s);
}

static void
test_invalid(void **state)
{
	double v[] = { 1, 2, 3, 4, 5, 6 };
	const char *bad_cats[] = { "a", NULL, "c" };
	const unsigned char mark[] = { 1, 0, 0 };
	saksi_chart c;
	FILE *f = fopen("/dev/null", "w");

	(void)state;
	assert_non_null(f);
	base(&c, v);
	assert_int_equal(saksi_chart_bars(NULL, &c), SAKSI_ERR_INVAL);
	assert_int_equal(saksi_chart_bars(f, NULL), SAKSI_ERR_INVAL);
	c.ch_id = "Chart";
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	c.ch_id = "";
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	c.ch_id = "a-very-long-chart-identifier-of-40-chars";
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	base(&c, v);
	c.ch_title = NULL;
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	base(&c, v);
	c.ch_ncats = 0;
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	c.ch_ncats = SAKSI_CHART_CATS_MAX + 1;
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	base(&c, v);
	c.ch_nseries = 0;
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	c.ch_nseries = SAKSI_CHART_SERIES_MAX + 1;
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	base(&c, v);
	c.ch_cats = bad_cats;
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	base(&c, v);
	v[3] = -1;
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	v[3] = NAN;
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	v[3] = INFINITY;
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	v[3] = 4;
	c.ch_mark = mark;   /* a highlight without its legend text */
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_INVAL);
	c.ch_mark_label = "tail";
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_OK);
	fclose(f);

	/* A stream that cannot be written. */
	f = fopen("/dev/null", "r");
	assert_non_null(f);
	base(&c, v);
	assert_int_equal(saksi_chart_bars(f, &c), SAKSI_ERR_IO);
	fclose(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_marks),
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_mark_and_escape),
		cmocka_unit_test(test_all_zero),
		cmocka_unit_test(test_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
