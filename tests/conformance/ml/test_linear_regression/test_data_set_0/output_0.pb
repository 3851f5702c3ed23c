BvariableJx-­oC!‡zCΰΩ$CπBΌ5CƒCZxΰB¬ς?CΎCιψlC―+,C'Δ5Cq=ΰB'5ΊBΘrC6_¶Bk¨CZZBΜΊΖB΄BTCe
EC²v"CΒ$$CΉΌCVAOCΩ4*CδρίBN¥Bκ:CFΈ$C