/*
 * chart.h: the reports' charts as inline SVG, drawn by hand: one bar chart (stacked or
 * grouped series, some bars highlighted), and the HTML escaping that every text in a
 * report goes through. It draws numbers and labels it is given: it never sees a ledger,
 * and must never be given a personal value (a label is printed as it is, escaped).
 *
 * The output needs no script, font or stylesheet from anywhere: colours are attributes,
 * text uses the reader's sans-serif. Threads: no state; one FILE per caller.
 */
#ifndef SAKSI_CHART_H
#define SAKSI_CHART_H

#include <stddef.h>
#include <stdio.h>

#include "saksi_error.h"

#define SAKSI_CHART_CATS_MAX 400    /* categories (a year of days and some) */
#define SAKSI_CHART_SERIES_MAX 16
#define SAKSI_CHART_ID_MAX 32

typedef struct saksi_chart {
	const char *ch_id;              /* [a-z0-9-], 1..SAKSI_CHART_ID_MAX: the svg's id */
	const char *ch_title;           /* the chart's <title>, and the heading inside it */
	const char *ch_desc;            /* its <desc>: what it shows, for a screen reader */
	const char *ch_xlabel;          /* axis labels, with their units */
	const char *ch_ylabel;
	const char *const *ch_cats;     /* the categories along x, ch_ncats of them */
	size_t ch_ncats;                /* 1..SAKSI_CHART_CATS_MAX */
	const char *const *ch_series;   /* the series' names (the legend), ch_nseries */
	size_t ch_nseries;              /* 1..SAKSI_CHART_SERIES_MAX */
	const double *ch_values;        /* ch_ncats x ch_nseries, category by category:
	                                   finite and >= 0 */
	int ch_stacked;                 /* 1: series stacked in one bar; 0: side by side */
	const unsigned char *ch_mark;   /* NULL, or per category 1: drawn highlighted */
	const char *ch_mark_label;      /* the legend's text for a highlighted bar */
} saksi_chart;

/*
 * Writes the chart to out as one <svg class="chart" role="img"> element with a <title>
 * and a <desc>, both axes with ticks and their labels, a legend when there is more than
 * one series or a highlight, and one <g class="bar"> (class "bar tail" when marked) per
 * category holding one <rect class="seg"> per series with a value above zero, each with
 * a <title> of its number, so the marks can be counted and read. SAKSI_ERR_INVAL for a
 * NULL member, an id that is not [a-z0-9-]{1,32}, counts out of range, a value that is
 * negative or not finite; SAKSI_ERR_IO if out fails (ferror).
 */
saksi_err saksi_chart_bars(FILE *out, const saksi_chart *c);

/* Writes s to out with & < > " ' escaped, for HTML text and attribute values alike;
 * control characters other than tab and newline are written as U+FFFD. */
void saksi_html_escape(FILE *out, const char *s);

#endif
