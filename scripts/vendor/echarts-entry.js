// The parts of ECharts the report uses: Sankey, bar and line charts with their components.
import * as echarts from "echarts/core";
import { SankeyChart, BarChart, LineChart } from "echarts/charts";
import {
  TooltipComponent, LegendComponent, GridComponent, DataZoomComponent, TitleComponent, AriaComponent,
} from "echarts/components";
import { SVGRenderer } from "echarts/renderers";
echarts.use([SankeyChart, BarChart, LineChart, TooltipComponent, LegendComponent, GridComponent,
  DataZoomComponent, TitleComponent, AriaComponent, SVGRenderer]);
globalThis.echarts = echarts;
